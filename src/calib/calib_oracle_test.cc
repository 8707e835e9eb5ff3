// The collectors on the real stories260K against an independent F64 numpy forward pass.
//
// Golden values: tests/oracles/fixtures/calib_stories260k.txt, made from the repository root by
// (one command line, broken here for width)
//   python3 tests/oracles/calib_oracle.py --xtx blk.1.attn_q.weight
//     ../shared/models/stories260K/stories260K.bin
//     1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419
//     292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391
//     266 267 337 335 312 432 398 312 286 267 414 270 333 415
//     > tests/oracles/fixtures/calib_stories260k.txt
// (also in the oracle's docstring; the ids are the fixture's "tokens" line). The oracle reads the
// llama2.c checkpoint with numpy alone and records Σ_t x[t][j]² and the row count of every linear
// input, and XᵀX of blk.1.attn_q.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "calib/hessian.h"
#include "calib/imatrix.h"
#include "model/loaders.h"
#include "model/stories_test_util.h"
#include "model/transformer.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

constexpr double kU64 = 0x1p-53;  // unit roundoff of F64

// shrink's forward is F32 (sgemm, F32 activations, ggml's F32 RoPE angles and softmax) and the
// oracle's F64, so each activation carries a relative error of some F32 ulps (u = 6e-8). A column's
// Σx² has only positive terms: its relative error is at most twice the largest relative error of
// the x that dominate it. Measured (stories260K, these 61 tokens, OpenBLAS on x86-64): inputs of
// Q/K/V and of the FFN (after an RMSNorm of the residual) agree to ≤ 6.6e-7, those of attn_output
// (attention outputs) to ≤ 2.4e-6 and of ffn_down to ≤ 1.8e-6; attn_output is already at 1.4e-6 in
// layer 0 while its Q/K/V are at 1.1e-7, so the error arises inside attention (F32 RoPE angles,
// scores, exponentials), not from accumulation over the 5 layers. The smallest column sum is 0.13,
// no column is near 0, so a plain relative bound works: 1e-5 is 4x the largest measured error
// (2.4e-6) and leaves room for another BLAS's summation order (~1e-7). For XᵀX's off-diagonal
// entries, whose terms cancel, the error is measured against sqrt(G_ii·G_jj) (Cauchy–Schwarz:
// |G_ij| ≤ sqrt(G_ii·G_jj)), the scale of the terms summed; measured max 2.8e-7 for blk.1.attn_q.
constexpr double kOracleTolerance = 1e-5;

struct OracleFixture {
  std::vector<TokenId> tokens;
  std::map<std::string, ImatrixEntry> sum_sq;  // every linear input of the forward
  std::map<std::string, GramEntry> xtx;        // full symmetric matrices
};

// Parses the oracle's output (format in calib_oracle.py's docstring).
::testing::AssertionResult ReadFixture(const std::filesystem::path& path, OracleFixture& out) {
  std::ifstream in(path);
  if (!in) return ::testing::AssertionFailure() << "cannot open " << path;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string kind, name;
    s >> kind;
    if (kind == "tokens") {
      for (TokenId t; s >> t;) out.tokens.push_back(t);
      continue;
    }
    int64_t rows = 0, cols = 0;
    s >> name >> rows >> cols;
    if (kind == "sum_sq") {
      ImatrixEntry& e = out.sum_sq[name];
      e.rows = rows;
      e.sum_sq.resize(cols);
      for (double& v : e.sum_sq) s >> v;
    } else if (kind == "xtx") {
      GramEntry& e = out.xtx[name];
      e = {.cols = cols, .xtx = std::vector<double>(cols * cols), .rows = rows};
      for (int64_t i = 0; i < cols; ++i) {
        for (int64_t j = i; j < cols; ++j) {
          s >> e.xtx[i * cols + j];
          e.xtx[j * cols + i] = e.xtx[i * cols + j];
        }
      }
    } else {
      return ::testing::AssertionFailure() << path << ": unknown record '" << kind << "'";
    }
    if (s.fail()) return ::testing::AssertionFailure() << path << ": bad record " << name;
  }
  return ::testing::AssertionSuccess();
}

// Forwards every call to two observers, so both see the very same activations.
class Tee : public ForwardObserver {
 public:
  Tee(ForwardObserver& a, ForwardObserver& b) : a_(a), b_(b) {}
  void OnLinearInput(int layer, TensorRole role, std::span<const float> x, int64_t T) override {
    a_.OnLinearInput(layer, role, x, T);
    b_.OnLinearInput(layer, role, x, T);
  }

 private:
  ForwardObserver& a_;
  ForwardObserver& b_;
};

class CalibOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SHRINK_LOAD_STORIES260K_OR_SKIP(model);
    ASSERT_TRUE(
        ReadFixture(testing::SourcePath("tests/oracles/fixtures/calib_stories260k.txt"), oracle_));
    ASSERT_GT(oracle_.tokens.size(), 40u);
    model_ = std::move(model);
    prepared_ = std::make_unique<PreparedModel>(*model_);
  }

  // Runs the fixture's tokens from position 0 in two batches (so the collectors accumulate over
  // Evaluate calls), with every position's logits (so the output projection sees every row).
  std::vector<float> Run(ForwardObserver* observer) {
    const std::span<const TokenId> tokens = oracle_.tokens;
    const int64_t V = model_->config.vocab_size;
    std::vector<float> logits(tokens.size() * V);
    InferenceSession session(*prepared_, static_cast<int32_t>(tokens.size()));
    session.SetObserver(observer);
    const size_t split = 40;
    EXPECT_TRUE(session.Evaluate(tokens.first(split), std::span(logits).first(split * V)).ok());
    EXPECT_TRUE(session.Evaluate(tokens.subspan(split), std::span(logits).subspan(split * V)).ok());
    return logits;
  }

  OracleFixture oracle_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PreparedModel> prepared_;
};

TEST_F(CalibOracleTest, ImatrixMatchesOracle) {
  ImatrixCollector imatrix(AllLinears);
  Run(&imatrix);
  // 5 layers × 7 linear tensors + the output projection.
  ASSERT_EQ(oracle_.sum_sq.size(), 36u);
  ASSERT_EQ(imatrix.entries().size(), oracle_.sum_sq.size());
  double max_rel = 0.0;
  for (const auto& [name, want] : oracle_.sum_sq) {
    const ImatrixEntry* got = imatrix.Find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->rows, want.rows) << name;
    ASSERT_EQ(got->sum_sq.size(), want.sum_sq.size()) << name;
    for (size_t j = 0; j < want.sum_sq.size(); ++j) {
      const double rel = std::abs(got->sum_sq[j] - want.sum_sq[j]) / want.sum_sq[j];
      max_rel = std::max(max_rel, rel);
      EXPECT_LE(rel, kOracleTolerance)
          << name << " column " << j << ": " << got->sum_sq[j] << " vs oracle " << want.sum_sq[j];
    }
  }
  std::printf("max relative error of sum_sq vs the F64 oracle: %.3g\n", max_rel);
  RecordProperty("max_rel_sum_sq", std::to_string(max_rel));
}

TEST_F(CalibOracleTest, ImatrixSkipsOutputByDefault) {
  ImatrixCollector imatrix;
  Run(&imatrix);
  EXPECT_EQ(imatrix.entries().size(), 35u);
  EXPECT_EQ(imatrix.Find("output.weight"), nullptr);
  ASSERT_NE(imatrix.Find("blk.4.ffn_down.weight"), nullptr);
}

TEST_F(CalibOracleTest, HessianMatchesOracle) {
  HessianCollector hessian(OnlyTensor(1, TensorRole::kAttnQ));
  Run(&hessian);
  ASSERT_EQ(hessian.entries().size(), 1u);
  const GramEntry& want = oracle_.xtx.at("blk.1.attn_q.weight");
  const GramEntry* got = hessian.Find("blk.1.attn_q.weight");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->rows, want.rows);
  ASSERT_EQ(got->cols, want.cols);
  const int64_t C = want.cols;
  double max_rel = 0.0;
  for (int64_t i = 0; i < C; ++i) {
    for (int64_t j = 0; j < C; ++j) {
      const double scale = std::sqrt(want.xtx[i * C + i] * want.xtx[j * C + j]);
      const double rel = std::abs(got->xtx[i * C + j] - want.xtx[i * C + j]) / scale;
      max_rel = std::max(max_rel, rel);
      EXPECT_LE(rel, kOracleTolerance)
          << i << "," << j << ": " << got->xtx[i * C + j] << " vs oracle " << want.xtx[i * C + j];
    }
  }
  std::printf("max error of XᵀX vs the F64 oracle, relative to sqrt(G_ii·G_jj): %.3g\n", max_rel);
  RecordProperty("max_rel_xtx", std::to_string(max_rel));
  // H = 2·XᵀX / n.
  const std::vector<double> H = GptqHessian(*got);
  EXPECT_DOUBLE_EQ(H[5 * C + 7], 2.0 * got->xtx[5 * C + 7] / static_cast<double>(want.rows));
}

TEST_F(CalibOracleTest, HessianDiagonalIsImatrix) {
  // Both collectors see the same activations through one Tee; a Hessian's diagonal is the same
  // Σ_t x[t][j]² as the imatrix. Both add the same n exact F64 products (F32·F32), all positive,
  // in different orders (dsyrk's blocking vs a row loop): each is within n·u relative of the exact
  // sum, so they agree to 2·n·u.
  const auto selected = [](int layer, TensorRole role) {
    return layer == 2 && (role == TensorRole::kAttnOutput || role == TensorRole::kFfnDown);
  };
  ImatrixCollector imatrix(selected);
  HessianCollector hessian(selected);
  Tee both(imatrix, hessian);
  Run(&both);
  ASSERT_EQ(hessian.entries().size(), 2u);
  for (const auto& [name, gram] : hessian.entries()) {
    const ImatrixEntry* sums = imatrix.Find(name);
    ASSERT_NE(sums, nullptr) << name;
    EXPECT_EQ(sums->rows, gram.rows);
    ASSERT_EQ(static_cast<int64_t>(sums->sum_sq.size()), gram.cols);
    const double tolerance = 2.0 * static_cast<double>(gram.rows) * kU64;
    for (int64_t j = 0; j < gram.cols; ++j) {
      EXPECT_NEAR(gram.xtx[j * gram.cols + j], sums->sum_sq[j], tolerance * sums->sum_sq[j])
          << name << " column " << j;
    }
  }
}

TEST_F(CalibOracleTest, ObserversDoNotChangeLogits) {
  const std::vector<float> plain = Run(nullptr);
  ImatrixCollector imatrix(AllLinears);
  EXPECT_EQ(Run(&imatrix), plain);
  HessianCollector hessian(AllLinears);
  EXPECT_EQ(Run(&hessian), plain);
}

}  // namespace
}  // namespace shrink
