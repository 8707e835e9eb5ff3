// Low-rank factorization: Eckart–Young on matrices of known singular values, a tiny model factored
// at full rank reproduces the dense logits, factored models written as GGUF load and run, the
// greedy budget search meets its target, and bad input gives one-line errors.
#include "prune/low_rank.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "io/gguf.h"
#include "model/loaders.h"
#include "model/prepared_model.h"
#include "model/tiny_model_test_util.h"
#include "model/transformer.h"
#include "prune/low_rank_model.h"
#include "prune/param_count.h"
#include "prune/pruned_gguf.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

using ::testing::HasSubstr;

constexpr double kF32Eps = 0x1p-24;  // unit roundoff of F32

// `cols` orthonormal columns of length `rows` (rows >= cols), column-major, from Gaussian vectors by
// modified Gram–Schmidt in double: an orthonormal basis that does not come from LAPACK.
std::vector<double> OrthonormalColumns(int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> q(static_cast<size_t>(rows * cols));
  for (double& v : q) v = normal(rng);
  for (int64_t j = 0; j < cols; ++j) {
    double* qj = q.data() + j * rows;
    for (int64_t p = 0; p < j; ++p) {
      const double* qp = q.data() + p * rows;
      double dot = 0;
      for (int64_t i = 0; i < rows; ++i) dot += qp[i] * qj[i];
      for (int64_t i = 0; i < rows; ++i) qj[i] -= dot * qp[i];
    }
    double norm = 0;
    for (int64_t i = 0; i < rows; ++i) norm += qj[i] * qj[i];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < rows; ++i) qj[i] /= norm;
  }
  return q;
}

// W = U diag(s) Vᵀ (rows × cols, row-major, rounded to F32) with the given singular values.
std::vector<float> MatrixWithSingularValues(int64_t rows, int64_t cols,
                                            const std::vector<double>& s, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t k = static_cast<int64_t>(s.size());
  const std::vector<double> u = OrthonormalColumns(rows, k, rng);
  const std::vector<double> v = OrthonormalColumns(cols, k, rng);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += u[p * rows + i] * s[p] * v[p * cols + j];
      w[i * cols + j] = static_cast<float>(sum);
    }
  }
  return w;
}

TEST(LowRankTest, EckartYoungErrorIsTheDiscardedSingularValues) {
  const int64_t rows = 48, cols = 32, rank = 10;
  std::vector<double> s;
  for (int i = 0; i < cols; ++i) s.push_back(std::pow(2.0, -i / 3.0));
  const std::vector<float> w = MatrixWithSingularValues(rows, cols, s, 7);
  double w_norm = 0, tail = 0, head_sum = 0;
  for (double v : s) w_norm += v * v;
  for (int64_t i = rank; i < cols; ++i) tail += s[i] * s[i];
  for (int64_t i = 0; i < rank; ++i) head_sum += s[i];
  w_norm = std::sqrt(w_norm);

  // Rounding W to F32 perturbs it by δ with ‖δ‖_F <= ε‖W‖_F, which moves each singular value by at
  // most ‖δ‖₂ <= ‖δ‖_F (Weyl); LAPACK's F64 error is ~1e-16‖W‖, negligible. Twice that margin.
  const Result<std::vector<double>> sv = SingularValues(w, rows, cols);
  ASSERT_TRUE(sv.ok()) << sv.status().ToString();
  ASSERT_EQ(sv->size(), s.size());
  for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR((*sv)[i], s[i], 2 * kF32Eps * w_norm) << i;

  const Result<LowRankFactors> f = FactorizeLowRank(w, rows, cols, rank);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->a.size(), static_cast<size_t>(rank * cols));
  ASSERT_EQ(f->b.size(), static_cast<size_t>(rows * rank));
  double err = 0;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double ba = 0;
      for (int64_t p = 0; p < rank; ++p) ba += double{f->b[i * rank + p]} * f->a[p * cols + j];
      const double d = w[i * cols + j] - ba;
      err += d * d;
    }
  }
  // ‖W32 − B̃Ã‖ differs from ‖W − W_r‖ = √tail by at most ‖δ‖_F <= ε‖W‖_F plus the F32 rounding of
  // the factors, <= 2ε‖B‖_F‖A‖_F = 2ε Σ_{i<r} σ_i (B = U√Σ, A = √ΣVᵀ). Twice that margin.
  EXPECT_NEAR(std::sqrt(err), std::sqrt(tail), 2 * kF32Eps * (w_norm + 2 * head_sum));
  EXPECT_NEAR(DiscardedEnergy(*sv, rank), tail / (w_norm * w_norm), 1e-6);
  // The factors split Σ evenly: row p of A and column p of B both have norm √σ_p.
  for (int64_t p = 0; p < rank; ++p) {
    double a2 = 0, b2 = 0;
    for (int64_t j = 0; j < cols; ++j) a2 += double{f->a[p * cols + j]} * f->a[p * cols + j];
    for (int64_t i = 0; i < rows; ++i) b2 += double{f->b[i * rank + p]} * f->b[i * rank + p];
    EXPECT_NEAR(a2, s[p], 1e-5) << p;
    EXPECT_NEAR(b2, s[p], 1e-5) << p;
  }
}

// Whitened (SVD-LLM): with S·Sᵀ = XᵀX, the output error Σ_t ‖(W − BA)·x_t‖² of the rank-r factors
// is the discarded energy of W·S, and no smaller for plain SVD (which minimizes a different norm).
TEST(LowRankTest, WhitenedErrorIsTheOutputErrorAndBeatsPlainSvd) {
  const int64_t rows = 24, cols = 16, T = 64, rank = 5;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> w(rows * cols), x(T * cols);
  for (float& v : w) v = normal(rng);
  // Inputs of very different scales per column, as LLM activations: the two norms then disagree.
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < cols; ++j) x[t * cols + j] = normal(rng) * std::pow(3.0f, j % 4);
  }
  std::vector<double> gram(cols * cols, 0.0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < cols; ++i) {
      for (int64_t j = 0; j < cols; ++j)
        gram[i * cols + j] += double{x[t * cols + i]} * x[t * cols + j];
    }
  }
  const Result<Whitening> wh = WhiteningFromGram(gram, cols, /*damp=*/0.0);
  ASSERT_TRUE(wh.ok()) << wh.status().ToString();
  auto output_error = [&](const LowRankFactors& f, bool factored) {
    double e = 0;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t i = 0; i < rows; ++i) {
        double y = 0;
        for (int64_t j = 0; j < cols; ++j) {
          double ba = 0;
          if (factored) {
            for (int64_t p = 0; p < f.rank; ++p)
              ba += double{f.b[i * f.rank + p]} * f.a[p * cols + j];
          }
          y += (w[i * cols + j] - ba) * x[t * cols + j];
        }
        e += y * y;
      }
    }
    return e;
  };
  const Result<LowRankFactors> white = FactorizeLowRank(w, rows, cols, rank, &*wh);
  const Result<LowRankFactors> plain = FactorizeLowRank(w, rows, cols, rank);
  ASSERT_TRUE(white.ok() && plain.ok());
  // Σ σ_i(W·S)² = ‖W·S‖²_F = Σ_t ‖W·x_t‖², computed here without the factorization.
  const double total = output_error({}, /*factored=*/false);
  double sum_sq = 0, head = 0, tail = 0;
  for (size_t i = 0; i < white->singular_values.size(); ++i) {
    const double s2 = white->singular_values[i] * white->singular_values[i];
    sum_sq += s2;
    (static_cast<int64_t>(i) < rank ? head : tail) += s2;  // head: Σσ² of the kept ranks
  }
  EXPECT_NEAR(sum_sq, total, 1e-9 * total);  // F64 sums of F32 products
  // F32 rounding of the factors moves ‖(W − BA)·S‖ by at most 2ε‖B‖_F‖A·S‖_F = 2ε Σ_{i<r} σ_i;
  // bounded above by 2ε√(r·head) (Cauchy–Schwarz). Twice that margin.
  const double tol = 4 * kF32Eps * std::sqrt(rank * head);
  EXPECT_NEAR(std::sqrt(output_error(*white, true)), std::sqrt(tail), tol);
  EXPECT_LT(output_error(*white, true), output_error(*plain, true));
}

TEST(LowRankTest, UsefulRanksAndRatios) {
  // 64 × 64: r·128 < 4096 ⇔ r <= 31.
  EXPECT_EQ(MaxUsefulRank(64, 64), 31);
  EXPECT_EQ(MaxUsefulRank(64, 64, 8), 24);
  EXPECT_EQ(MaxUsefulRank(1, 64), 0);          // a single row never gets cheaper
  EXPECT_EQ(RankFromRatio(96, 64, 0.25), 16);  // 16·160 = 2560 < 6144
  EXPECT_EQ(RankFromRatio(96, 64, 0.5), 32);   // 32·160 = 5120 < 6144
  EXPECT_EQ(RankFromRatio(96, 64, 1.0), 0);    // full rank saves nothing: stays whole
  EXPECT_EQ(RankFromRatio(96, 64, 0.3, 8), 16);
}

TEST(LowRankTest, BadRatiosAndCounts) {
  for (double bad : {0.0, -0.5, 1.01, std::numeric_limits<double>::quiet_NaN()}) {
    const Status s = CheckRankRatio(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.ToString(), HasSubstr("--rank-ratio"));
    EXPECT_THAT(s.ToString(), HasSubstr("(0, 1]"));
  }
  EXPECT_TRUE(CheckRankRatio(1.0).ok());
  EXPECT_EQ(*ParseParamCount("--target-params", "100M"), 100'000'000);
  EXPECT_EQ(*ParseParamCount("--target-params", "1.5G"), 1'500'000'000);
  EXPECT_EQ(*ParseParamCount("--target-params", "800K"), 800'000);
  EXPECT_EQ(*ParseParamCount("--target-params", "250000"), 250'000);
  for (const char* bad : {"", "abc", "-5M", "0", "10X", "M"}) {
    const Result<int64_t> r = ParseParamCount("--target-params", bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().ToString(), HasSubstr("--target-params"));
  }
}

// Two equal shapes: a steep spectrum loses almost nothing per parameter, a flat one a lot. The
// greedy search must take the steep matrix's steps first.
TEST(LowRankTest, GreedyTakesTheCheapestEnergyFirst) {
  RankCandidate steep{64, 64, {}}, flat{64, 64, {}};
  for (int i = 0; i < 64; ++i) {
    steep.singular_values.push_back(std::pow(0.5, i));
    flat.singular_values.push_back(1.0);
  }
  const std::vector<RankCandidate> c = {flat, steep};
  const Result<RankPlan> small = ChooseRanksForBudget(c, 1000);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->ranks[0], 0);  // the flat matrix stays whole
  EXPECT_GT(small->ranks[1], 0);
  EXPECT_GE(small->params_saved, 1000);
  // 4096: the steep matrix's hull steps are cheaper than the flat one's single hull segment
  // (whole → rank 1: 63/64 of its energy for 3968 parameters, 2.5e-4 per parameter) down to rank 3
  // (its 3 → 2 step costs (0.0625 − 0.0156)/128 = 3.7e-4 per parameter), saving 4096 − 3·128 = 3712;
  // the flat matrix then gives the remaining 384 at the highest rank that does: 4096 − 128r >= 384,
  // r = 29.
  const Result<RankPlan> big = ChooseRanksForBudget(c, 4096);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->ranks[1], 3);
  EXPECT_EQ(big->ranks[0], 29);
  EXPECT_EQ(big->params_saved, 3712 + 384);
  const Result<RankPlan> impossible = ChooseRanksForBudget(c, 2 * (4096 - 128) + 1);
  EXPECT_THAT(impossible.status().ToString(), HasSubstr("at most 7936"));
}

std::vector<float> Logits(const Model& model) {
  const PreparedModel prepared(model);
  InferenceSession session(prepared, 16);
  const std::vector<TokenId> tokens = {1, 17, 42, 99, 3, 127, 64, 5};
  std::vector<float> logits(tokens.size() * model.config.vocab_size);
  const Status s = session.Evaluate(tokens, logits);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

float MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

float MaxAbs(std::span<const float> a) {
  float m = 0;
  for (float v : a) m = std::max(m, std::abs(v));
  return m;
}

std::unique_ptr<Model> FactoredCopy(const Model& dense, std::span<const int64_t> ranks) {
  auto m = std::make_unique<Model>();
  m->config = dense.config;
  m->weights = dense.weights;
  m->metadata = dense.metadata;
  const std::vector<LowRankSite> sites = LowRankSites(m->weights);
  const Status s = ApplyLowRank(m->weights, sites, ranks);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

TEST(LowRankModelTest, FullRankReproducesTheDenseLogits) {
  const auto dense = RandomF32Model(TinyTestConfig(2), 11);
  const std::vector<LowRankSite> sites = LowRankSites(dense->weights);
  ASSERT_EQ(sites.size(), 14u);  // 7 linears × 2 layers
  std::vector<int64_t> full;
  for (const LowRankSite& s : sites) full.push_back(std::min(s.rows, s.cols));
  const auto factored = FactoredCopy(*dense, full);
  const LowRankPair& up = factored->weights.layers[1].factors(TensorRole::kFfnUp);
  ASSERT_TRUE(up.listed());
  EXPECT_EQ(up.a.name, "blk.1.ffn_up.weight.lr_a");
  EXPECT_EQ(up.rank(), 64);
  EXPECT_FALSE(factored->weights.layers[1].ffn_up.listed());

  const std::vector<float> want = Logits(*dense), got = Logits(*factored);
  // B·A equals W up to the F32 rounding of the factors: per entry about ε·Σσ_i·‖u‖‖v‖, i.e. a
  // relative error of a few ε·√k (k <= 64: ~1e-6) per matrix; two layers of seven products and
  // their norms amplify it at most a hundredfold. 1e-4 of the largest logit bounds that, while a
  // real truncation (below) moves logits by far more.
  const float tol = 1e-4f * MaxAbs(want);
  EXPECT_LE(MaxAbsDiff(got, want), tol);

  const auto half = FactoredCopy(*dense, RanksFromRatio(sites, 0.25));
  EXPECT_GT(MaxAbsDiff(Logits(*half), want), 100 * tol);
}

// Writes `model`'s tensors in table order (factor pairs included) with `metadata`.
Status WriteModel(const Model& model, const GgufMetadata& metadata, const std::string& path) {
  std::vector<PrunedTensor> tensors;
  model.weights.ForEachTensor([&](const TensorView& v) {
    tensors.push_back({&v, TensorType::kF32, {}});
  });
  return WritePrunedGguf(path, metadata, tensors, {});
}

GgufMetadata WithLowRankKeys(GgufMetadata m) {
  m.emplace_back(std::string(kLowRankVersionKey), GgufValue::U32(kLowRankVersion));
  return m;
}

TEST(LowRankModelTest, FactoredGgufLoadsAndRuns) {
  const auto dense = RandomF32Model(TinyTestConfig(2), 12);
  const std::vector<LowRankSite> sites = LowRankSites(dense->weights);
  const auto factored = FactoredCopy(*dense, RanksFromRatio(sites, 0.25));
  const std::string path = (testing::ScratchDir() / "low_rank.gguf").string();
  const Status w = WriteModel(*factored, WithLowRankKeys(factored->metadata), path);
  ASSERT_TRUE(w.ok()) << w.ToString();
  Result<std::unique_ptr<Model>> loaded = LoadGgufTransformer(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Weights& lw = (*loaded)->weights;
  EXPECT_EQ(lw.layers[0].factors(TensorRole::kAttnQ).rank(), 16);  // 0.25 · 64
  EXPECT_EQ(lw.layers[0].factors(TensorRole::kFfnDown).rank(), 16);
  EXPECT_EQ(ParameterCount(lw), ParameterCount(factored->weights));
  EXPECT_LT(ParameterCount(lw), ParameterCount(dense->weights));
  // The same F32 factors through the same kernels: the same logits bit for bit.
  EXPECT_EQ(Logits(**loaded), Logits(*factored));
}

TEST(LowRankModelTest, LoaderRejectsInconsistentFactors) {
  const auto dense = RandomF32Model(TinyTestConfig(1), 13);
  const auto factored = FactoredCopy(*dense, RanksFromRatio(LowRankSites(dense->weights), 0.25));
  // No version key.
  const std::string no_key = (testing::ScratchDir() / "low_rank_no_key.gguf").string();
  ASSERT_TRUE(WriteModel(*factored, factored->metadata, no_key).ok());
  EXPECT_THAT(LoadGgufTransformer(no_key).status().ToString(),
              HasSubstr("no key 'shrink.low_rank.version'"));
  // A factor without its partner.
  std::vector<PrunedTensor> tensors;
  factored->weights.ForEachTensor([&](const TensorView& v) {
    if (v.name != "blk.0.attn_v.weight.lr_b") tensors.push_back({&v, TensorType::kF32, {}});
  });
  const std::string lone = (testing::ScratchDir() / "low_rank_lone.gguf").string();
  ASSERT_TRUE(WritePrunedGguf(lone, WithLowRankKeys(factored->metadata), tensors, {}).ok());
  EXPECT_THAT(LoadGgufTransformer(lone).status().ToString(),
              HasSubstr("blk.0.attn_v.weight.lr_a has no partner blk.0.attn_v.weight.lr_b"));
}

TEST(LowRankModelTest, TargetParamsMeetsTheBudget) {
  const auto dense = RandomF32Model(TinyTestConfig(2), 14);
  const std::vector<LowRankSite> sites = LowRankSites(dense->weights);
  const int64_t total = ParameterCount(dense->weights);
  const int64_t target = total - 20000;
  const Result<RankPlan> plan = RanksForTargetParams(dense->weights, sites, target);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const auto factored = FactoredCopy(*dense, plan->ranks);
  EXPECT_LE(ParameterCount(factored->weights), target);
  EXPECT_EQ(ParameterCount(factored->weights), total - plan->params_saved);
  for (float v : Logits(*factored)) ASSERT_TRUE(std::isfinite(v));

  EXPECT_THAT(RanksForTargetParams(dense->weights, sites, total).status().ToString(),
              HasSubstr("nothing to remove"));
  // The most low rank can remove: every site at rank 1.
  int64_t most = 0;
  for (const LowRankSite& s : sites) most += s.rows * s.cols - (s.rows + s.cols);
  EXPECT_TRUE(RanksForTargetParams(dense->weights, sites, total - most).ok());
  const Result<RankPlan> too_far = RanksForTargetParams(dense->weights, sites, total - most - 1);
  EXPECT_THAT(too_far.status().ToString(), HasSubstr("below what low rank reaches"));
  EXPECT_THAT(too_far.status().ToString(), HasSubstr(fmt::format("{} parameters", total - most)));
}

}  // namespace
}  // namespace shrink
