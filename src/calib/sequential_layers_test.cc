// The layer-by-layer driver shared by GPTQ and SparseGPT on a tiny random model: true-sequential
// order, every selected linear once with the Gram of all calibration rows, and inputs that pass
// through the tensors already rewritten.
#include "calib/sequential_layers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "model/tiny_model_test_util.h"

namespace shrink {
namespace {

constexpr CalibrationPlan kPlan{.n_ctx = 16, .n_chunk = 3};

std::vector<TokenId> Tokens(const Config& c) {
  std::mt19937 rng(3);
  std::vector<TokenId> tokens(kPlan.n_ctx * kPlan.n_chunk);
  for (TokenId& t : tokens) t = static_cast<TokenId>(rng() % c.vocab_size);
  return tokens;
}

TEST(SequentialLayersTest, VisitsSelectedLinearsInTrueSequentialOrder) {
  const Config c = TinyTestConfig(2);
  std::unique_ptr<Model> model = RandomF32Model(c, 1);
  std::vector<std::string> seen;
  SequentialOptions o;
  o.select = [](int, TensorRole role) { return role != TensorRole::kAttnK; };
  const Status s = RewriteLinearsSequentially(
      *model, Tokens(c), kPlan, o,
      [&](const TensorView& v, const GramEntry& g) -> Result<std::optional<RewrittenTensor>> {
        seen.push_back(v.name);
        EXPECT_EQ(g.rows, kPlan.n_ctx * kPlan.n_chunk) << v.name;
        EXPECT_EQ(g.cols, v.cols()) << v.name;
        return std::optional<RewrittenTensor>();
      });
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<std::string> want;
  for (int l = 0; l < 2; ++l) {
    for (const char* n : {"attn_q", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
      want.push_back("blk." + std::to_string(l) + "." + n + ".weight");
    }
  }
  EXPECT_EQ(seen, want);
}

// attn_output's input is the attention's mix of V rows: with layer 0's V rewritten to zeros, the
// Gram attn_output is given must be zero, which it is only if the Q/K/V stage's result feeds the
// next stage. Layer 1's inputs then differ from the unmodified model's.
TEST(SequentialLayersTest, LaterStagesSeeTheRewrittenTensors) {
  const Config c = TinyTestConfig(2);
  auto grams = [&](bool zero_v) {
    std::unique_ptr<Model> model = RandomF32Model(c, 1);
    std::map<std::string, GramEntry> out;
    SequentialOptions o;
    o.select = BlockLinears;
    const Status s = RewriteLinearsSequentially(
        *model, Tokens(c), kPlan, o,
        [&](const TensorView& v, const GramEntry& g) -> Result<std::optional<RewrittenTensor>> {
          out[v.name] = g;
          if (!zero_v || v.name != "blk.0.attn_v.weight") return std::optional<RewrittenTensor>();
          RewrittenTensor zeros{TensorType::kF32,
                                std::vector<uint8_t>(v.element_count() * sizeof(float), 0)};
          return std::optional<RewrittenTensor>(std::move(zeros));
        });
    EXPECT_TRUE(s.ok()) << s.message();
    if (zero_v) {
      EXPECT_EQ(model->weights.layers[0].attn_v.type, TensorType::kF32);
      const auto* w = reinterpret_cast<const float*>(model->weights.layers[0].attn_v.data.data());
      EXPECT_EQ(w[0], 0.0f);
    }
    return out;
  };
  const auto plain = grams(false), zeroed = grams(true);
  const std::vector<double>& attn_out = zeroed.at("blk.0.attn_output.weight").xtx;
  EXPECT_TRUE(std::all_of(attn_out.begin(), attn_out.end(), [](double v) { return v == 0.0; }));
  EXPECT_FALSE(std::all_of(plain.at("blk.0.attn_output.weight").xtx.begin(),
                           plain.at("blk.0.attn_output.weight").xtx.end(),
                           [](double v) { return v == 0.0; }));
  // Layer 0's Q/K/V saw the same inputs either way; layer 1's did not.
  EXPECT_EQ(plain.at("blk.0.attn_q.weight").xtx, zeroed.at("blk.0.attn_q.weight").xtx);
  EXPECT_NE(plain.at("blk.1.attn_q.weight").xtx, zeroed.at("blk.1.attn_q.weight").xtx);
}

TEST(SequentialLayersTest, WrongSizedRewriteIsAnError) {
  const Config c = TinyTestConfig(1);
  std::unique_ptr<Model> model = RandomF32Model(c, 1);
  SequentialOptions o;
  o.select = BlockLinears;
  const Status s = RewriteLinearsSequentially(
      *model, Tokens(c), kPlan, o,
      [](const TensorView&, const GramEntry&) -> Result<std::optional<RewrittenTensor>> {
        return std::optional<RewrittenTensor>(RewrittenTensor{TensorType::kF32, {1, 2, 3}});
      });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blk.0.attn_q.weight"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace shrink
