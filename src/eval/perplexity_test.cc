// The perplexity protocol, the base file and the KLD statistics against the numpy oracle
// (tests/oracles/eval_perplexity_oracle.py, fixtures in tests/oracles/fixtures/eval/). The oracle
// mirrors llama-perplexity's float/double steps, so the printed lines must agree exactly.
#include "eval/perplexity.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>

#include "eval/report.h"
#include "eval/token_scores.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

constexpr int32_t kVocab = 11, kCtx = 32, kChunks = 8;
constexpr TokenId kBos = 1;

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
std::vector<T> ReadArray(const std::string& name) {
  const std::string bytes = ReadAll(testing::SourcePath("tests/oracles/fixtures/eval/" + name));
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}

// Sections "== name" of expected.txt.
std::map<std::string, std::string> ExpectedSections() {
  std::istringstream in(ReadAll(testing::SourcePath("tests/oracles/fixtures/eval/expected.txt")));
  std::map<std::string, std::string> sections;
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.rfind("== ", 0) == 0) {
      current = line.substr(3);
    } else {
      sections[current] += line + "\n";
    }
  }
  return sections;
}

// A fake model: returns the fixture's logits for the next chunk, and checks the chunk it is given
// starts with BOS and otherwise equals the text.
struct FakeModel {
  std::vector<float> logits;  // (kChunks, kCtx, kVocab)
  std::vector<TokenId> text;
  int32_t calls = 0;
  ChunkEvaluator Evaluator() {
    return [this](std::span<const TokenId> tokens, std::span<float> out) -> Status {
      EXPECT_EQ(tokens.size(), size_t(kCtx));
      EXPECT_EQ(out.size(), size_t(kCtx) * kVocab);
      EXPECT_EQ(tokens[0], kBos);
      for (int32_t i = 1; i < kCtx; ++i) EXPECT_EQ(tokens[i], text[calls * kCtx + i]) << i;
      std::copy_n(logits.begin() + size_t(calls) * kCtx * kVocab, out.size(), out.begin());
      ++calls;
      return Status::Ok();
    };
  }
};

class OracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing::SourcePath("tests/oracles/fixtures/eval/expected.txt")))
      GTEST_SKIP() << "fixtures missing: run tests/oracles/eval_perplexity_oracle.py";
    tokens_ = ReadArray<TokenId>("tokens.bin");
    expected_ = ExpectedSections();
  }
  EvalSetup Setup(int threads) const { return {kVocab, true, kBos, threads}; }
  std::vector<TokenId> tokens_;
  std::map<std::string, std::string> expected_;
};

TEST(PlanChunksTest, FollowsLlamaPerplexity) {
  Result<ChunkPlan> plan = PlanChunks(1300, 512, -1);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->n_chunk, 2);  // 1300 / 512, the tail is dropped
  EXPECT_EQ(plan->first, 256);
  EXPECT_EQ(plan->scored, 255);  // logits of positions 256..510 predict tokens 257..511
  EXPECT_EQ(PlanChunks(1300, 512, 1)->n_chunk, 1);
  EXPECT_EQ(PlanChunks(1300, 512, 7)->n_chunk, 2);
  Result<ChunkPlan> short_text = PlanChunks(1023, 512, -1);
  ASSERT_FALSE(short_text.ok());
  EXPECT_NE(short_text.status().message().find("1023 tokens"), std::string::npos);
  EXPECT_NE(short_text.status().message().find("1024"), std::string::npos);
}

// --chunks 0 printed no PPL and exit status 0: nothing to score is an error.
TEST(PlanChunksTest, ZeroChunksIsAnError) {
  Result<ChunkPlan> plan = PlanChunks(1300, 512, 0);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(), "--chunks is 0, expected at least 1 chunk to score");
}

TEST(CheckFiniteLogitsTest, NamesThePositionAndTheIndex) {
  std::vector<float> logits(3 * 4, 0.5f);  // 3 rows of a vocabulary of 4
  EXPECT_TRUE(CheckFiniteLogits(logits, 4, 10).ok());
  logits[2 * 4 + 1] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(CheckFiniteLogits(logits, 4, 10).message(),
            "logits at token position 12 hold an infinity at vocabulary index 1 (the model's "
            "weights or activations are not finite)");
  logits[1 * 4 + 3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(CheckFiniteLogits(logits, 4, 10).message().substr(0, 52),
            "logits at token position 11 hold NaN at vocabulary i");
}

// NaN logits gave "[1]nan," and exit status 0; now the chunk and position are named. A NaN in an
// unscored row (before n_ctx / 2) does not reach the result and is not an error.
TEST_F(OracleTest, NanLogitsInAScoredRowAreAnError) {
  std::vector<float> logits = ReadArray<float>("logits_base.bin");
  logits[(size_t(kCtx) + 3) * kVocab + 5] = std::numeric_limits<float>::quiet_NaN();  // chunk 2
  FakeModel unscored{logits, tokens_};
  Result<ChunkPlan> plan = PlanChunks(tokens_.size(), kCtx, 2);
  ASSERT_TRUE(plan.ok());
  NllAccumulator nll;
  EXPECT_TRUE(
      RunPerplexity(tokens_, *plan, Setup(1), unscored.Evaluator(), nullptr, nll, [](int32_t) {
      }).ok());
  logits[(size_t(kCtx) + 20) * kVocab + 5] = std::numeric_limits<float>::quiet_NaN();
  FakeModel scored{logits, tokens_};
  const Status s =
      RunPerplexity(tokens_, *plan, Setup(1), scored.Evaluator(), nullptr, nll, [](int32_t) {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "chunk 2 (text tokens 32 to 63): logits at token position 20 hold NaN at vocabulary "
            "index 5 (the model's weights or activations are not finite)");
}

TEST_F(OracleTest, PlainPerplexityMatchesOracle) {
  for (int threads : {1, 3}) {
    FakeModel model{ReadArray<float>("logits_base.bin"), tokens_};
    Result<ChunkPlan> plan = PlanChunks(tokens_.size(), kCtx, -1);
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->n_chunk, kChunks);
    NllAccumulator nll;
    int32_t seen = 0;
    ASSERT_TRUE(RunPerplexity(tokens_, *plan, Setup(threads), model.Evaluator(), nullptr, nll,
                              [&](int32_t c) { EXPECT_EQ(c, seen++); })
                    .ok());
    EXPECT_EQ(seen, kChunks);
    EXPECT_EQ(nll.count(), size_t(kChunks) * 15);
    EXPECT_EQ(FormatFinalEstimate(nll), expected_["ppl_plain"]) << "threads " << threads;
  }
}

TEST_F(OracleTest, SavedBaseFileIsByteExactAndReadsBack) {
  FakeModel model{ReadArray<float>("logits_base.bin"), tokens_};
  ChunkPlan plan = PlanChunks(tokens_.size(), kCtx, -1).value();
  const std::string path = (testing::ScratchDir() / "base.logits").string();
  LogitsFileHeader header{kCtx, kVocab, kChunks,
                          std::vector<TokenId>(tokens_.begin(), tokens_.begin() + kChunks * kCtx)};
  Result<LogitsFileWriter> writer = LogitsFileWriter::Create(path, header);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  NllAccumulator nll;
  ASSERT_TRUE(RunPerplexity(tokens_, plan, Setup(2), model.Evaluator(), &*writer, nll, [](int32_t) {
              }).ok());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(FormatFinalEstimate(nll), expected_["ppl_save"]);
  const std::string ours = ReadAll(path);
  const std::string oracle =
      ReadAll(testing::SourcePath("tests/oracles/fixtures/eval/base.logits"));
  ASSERT_EQ(ours.size(), oracle.size());
  for (size_t i = 0; i < ours.size(); ++i)
    ASSERT_EQ(ours[i], oracle[i]) << "first difference at byte " << i;
  // The writer's temp was renamed: the file is alone in its folder.
  const auto folder = std::filesystem::path(path).parent_path();
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder), {}), 1);
}

TEST_F(OracleTest, KlDivergenceMatchesOracle) {
  for (int threads : {1, 4}) {
    FakeModel model{ReadArray<float>("logits_q.bin"), tokens_};
    Result<LogitsFileReader> base = LogitsFileReader::Open(
        testing::SourcePath("tests/oracles/fixtures/eval/base.logits").string());
    ASSERT_TRUE(base.ok()) << base.status().message();
    EXPECT_EQ(base->header().n_ctx, kCtx);
    EXPECT_EQ(base->header().n_vocab, kVocab);
    EXPECT_EQ(base->header().n_chunk, kChunks);
    KldAccumulator kld;
    std::string rows;
    ASSERT_TRUE(
        RunKlDivergence(*base, kChunks, Setup(threads), model.Evaluator(), kld, [&](int32_t c) {
          rows += FormatKldChunkRow(c + 1, kld.Statistics());
        }).ok());
    EXPECT_EQ(rows, expected_["kld_rows"]);
    EXPECT_EQ(FormatKldSummary(kld), expected_["kld_summary"]);
    EXPECT_EQ(FormatKldFinalEstimate(kld), expected_["kld_final"]);
  }
}

TEST(KldSummaryTest, NothingBelowHundredTokens) {
  KldAccumulator kld;
  for (int i = 0; i < 99; ++i) kld.Add({1.0f, 1.0f, 0.0, 0.0f, true});
  EXPECT_EQ(FormatKldSummary(kld), "");
}

TEST(FinalEstimateTest, ZeroVarianceGivesLlamaMessage) {
  NllAccumulator nll;
  for (int i = 0; i < 5; ++i) nll.Add(2.0);
  EXPECT_EQ(FormatFinalEstimate(nll), "Unexpected negative standard deviation of log(prob)\n");
}

TEST(RunningPplTest, Format) { EXPECT_EQ(FormatRunningPpl(3, 12.345678), "[3]12.3457,"); }

}  // namespace
}  // namespace shrink
