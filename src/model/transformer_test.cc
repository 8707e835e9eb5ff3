// The forward pass on real models. The golden greedy text for stories260K is stated in
// ../shared/docs/models.md (the stories260K row) and reproduced, with its token ids, by an
// independent F64 numpy forward pass: tests/oracles/stories_greedy_oracle.py, whose output is the
// committed fixture tests/oracles/fixtures/stories260k_greedy.txt that this test reads.
#include "model/transformer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/loaders.h"
#include "model/model.h"
#include "model/stories_test_util.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

// The "tokens ..." ids and the "text ..." line of tests/oracles/fixtures/stories260k_greedy.txt.
struct GreedyFixture {
  std::vector<TokenId> tokens;
  std::string text;
};
GreedyFixture ReadGreedyFixture() {
  std::ifstream in(testing::SourcePath("tests/oracles/fixtures/stories260k_greedy.txt"));
  GreedyFixture f;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("tokens ")) {
      std::istringstream ids(line.substr(7));
      for (TokenId id; ids >> id;) f.tokens.push_back(id);
    } else if (line.starts_with("text ")) {
      f.text = line.substr(5);
    }
  }
  return f;
}

TokenId Argmax(std::span<const float> row) {
  return static_cast<TokenId>(std::max_element(row.begin(), row.end()) - row.begin());
}

std::vector<TokenId> GreedyTokens(const Model& model, TokenId bos, int n) {
  const PreparedModel prepared(model);
  InferenceSession session(prepared, n + 1);
  std::vector<float> logits(model.config.vocab_size);
  std::vector<TokenId> out;
  TokenId token = bos;
  for (int i = 0; i < n; ++i) {
    const Status s = session.Evaluate(std::span(&token, 1), logits);
    EXPECT_TRUE(s.ok()) << s.ToString();
    token = Argmax(logits);
    out.push_back(token);
  }
  return out;
}

TEST(TransformerTest, Stories260KGreedyPrintsGoldenText) {
  SHRINK_LOAD_STORIES260K_OR_SKIP(model);
  const Model& m = *model;
  EXPECT_EQ(m.config.n_layers, 5);
  EXPECT_TRUE(m.config.tied_embeddings);
  const GreedyFixture golden = ReadGreedyFixture();
  ASSERT_EQ(golden.tokens.size(), 60u) << "tests/oracles/fixtures/stories260k_greedy.txt";
  const std::vector<TokenId> ids = GreedyTokens(m, /*bos=*/1, 60);
  EXPECT_EQ(ids, golden.tokens);
  std::string text;
  for (TokenId t : ids) text += m.tokenizer->TokenToPiece(t, false);
  // SentencePiece pieces carry a leading space; after BOS run.c (and SentencePiece's decoder) drops
  // it.
  ASSERT_FALSE(text.empty());
  if (text[0] == ' ') text.erase(0, 1);
  EXPECT_EQ(text, golden.text);
}

TEST(TransformerTest, BatchedEvaluationMatchesTokenByToken) {
  // Evaluating a prompt in one batch (sgemm, batched attention) must give the logits of feeding the
  // same tokens one at a time (sgemv, attention over the cache). Both compute the same sums in F32
  // in different orders: differences are rounding, far below the logit spread (tolerance 1e-3 on
  // logits of magnitude ~10 allows ~1e-4 relative, ~1000 ulps, for 5 layers of accumulated
  // reordering).
  SHRINK_LOAD_STORIES260K_OR_SKIP(model);
  const Model& m = *model;
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378, 430, 11, 280, 362};
  const int V = m.config.vocab_size;
  std::vector<float> batched(prompt.size() * V), single(prompt.size() * V);
  const PreparedModel prepared(m);
  InferenceSession a(prepared, 32), b(prepared, 32);
  ASSERT_TRUE(a.Evaluate(prompt, batched).ok());
  for (size_t t = 0; t < prompt.size(); ++t) {
    ASSERT_TRUE(b.Evaluate(std::span(&prompt[t], 1), std::span(single).subspan(t * V, V)).ok());
  }
  EXPECT_EQ(a.position(), static_cast<int32_t>(prompt.size()));
  for (size_t i = 0; i < batched.size(); ++i) ASSERT_NEAR(batched[i], single[i], 1e-3) << i;

  // Logits for the last rows only equal the matching rows of the full batch, up to the summation
  // order BLAS picks for a 3-row vs a 9-row product of 64-term dots: γ_64·Σ|w||x| ≈ 4e-6·|logit|
  // scale.
  InferenceSession c(prepared, 32);
  std::vector<float> tail(3 * V);
  ASSERT_TRUE(c.Evaluate(prompt, tail, static_cast<int32_t>(prompt.size()) - 3).ok());
  for (int i = 0; i < 3 * V; ++i) {
    ASSERT_NEAR(tail[i], batched[(prompt.size() - 3) * V + i], 1e-4);
  }
}

TEST(TransformerTest, RejectsOverflowAndBadTokens) {
  SHRINK_LOAD_STORIES260K_OR_SKIP(model);
  const PreparedModel prepared(*model);
  InferenceSession s(prepared, 2);
  std::vector<float> logits(3 * 512);
  const std::vector<TokenId> three = {1, 2, 3};
  EXPECT_THAT(s.Evaluate(three, logits).ToString(), ::testing::HasSubstr("overflows the context"));
  const std::vector<TokenId> bad = {512};
  std::vector<float> one(512);
  EXPECT_THAT(s.Evaluate(bad, one).ToString(), ::testing::HasSubstr("outside the vocabulary"));
  EXPECT_EQ(s.position(), 0);
}

TEST(TransformerTest, Llama2cNeedsTokenizer) {
  const auto model_path = testing::SharedPath("models/stories260K/stories260K.bin");
  SHRINK_SKIP_IF_MISSING(model_path);
  auto model = LoadModel(model_path.string());
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), ::testing::HasSubstr("needs its tokenizer file"));
}

}  // namespace
}  // namespace shrink
