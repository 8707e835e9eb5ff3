// SparseGPT on a synthetic layer with correlated inputs: lower output error than magnitude and
// Wanda at 50% and at 2:4; masks of exactly the requested sparsity per row and per group;
// sparsity 0 leaves the layer unchanged; independent of the thread count. And over a tiny model:
// every block linear pruned exactly, through the shared layer-by-layer driver.
#include "prune/sparsegpt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "calib/calibration_run.h"
#include "calib/correlated_layer_test_util.h"
#include "model/tiny_model_test_util.h"
#include "prune/sparsegpt_model.h"
#include "prune/sparsity.h"

namespace shrink {
namespace {

constexpr int64_t kIn = 512, kOut = 48, kRows = 2048;

using Layer = CorrelatedLayer;

// The shared synthetic layer (calib/correlated_layer_test_util.h): correlated inputs are what
// SparseGPT's update exploits, a removed weight's contribution partly rebuilt by its neighbours;
// the outlier channels are where Wanda beats magnitude.
Layer MakeLayer(uint32_t seed = 7) { return MakeCorrelatedLayer(kIn, kOut, kRows, seed); }

// Σ_t ‖(W − Ŵ)·x_t‖² over the layer's inputs.
double OutputError(const Layer& l, const std::vector<float>& Wp) { return LayerOutputError(l, Wp); }

// Magnitude (empty scale) or Wanda (‖X_j‖₂) on every row, as `shrink prune` does.
std::vector<float> PrunedByScore(const Layer& l, std::span<const float> scale,
                                 const SparsityTarget& t) {
  std::vector<float> W = l.W;
  std::vector<int32_t> scratch;
  for (int64_t o = 0; o < kOut; ++o) {
    PruneRow(std::span<float>(W.data() + o * kIn, kIn), scale, t, scratch);
  }
  return W;
}

SparseGptResult Prune(const Layer& l, const SparsityTarget& t, int threads = 2,
                      const SparseGptOptions& options = {}) {
  ThreadPool pool(threads);
  auto r = SparseGptPrune(l.W, kOut, kIn, l.H, t, options, pool);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(*r) : SparseGptResult{};
}

struct Case {
  const char* name;
  SparsityTarget target;
};

class SparseGptErrorTest : public ::testing::TestWithParam<Case> {};

TEST_P(SparseGptErrorTest, LowerOutputErrorThanMagnitudeAndWanda) {
  const Layer l = MakeLayer();
  const SparsityTarget& t = GetParam().target;
  const SparseGptResult r = Prune(l, t);
  const double sparsegpt = OutputError(l, r.weights);
  const double magnitude = OutputError(l, PrunedByScore(l, {}, t));
  const double wanda = OutputError(l, PrunedByScore(l, l.norm, t));
  // SparseGPT's mask on the original weights, without the update of the kept ones.
  std::vector<float> mask_only = l.W;
  for (size_t i = 0; i < mask_only.size(); ++i) {
    if (r.mask[i]) mask_only[i] = 0.0f;
  }
  const double no_update = OutputError(l, mask_only);
  std::printf(
      "%s: output error magnitude %.4g, Wanda %.4g, SparseGPT %.4g (%.3f of Wanda), its mask "
      "without the update %.4g\n",
      GetParam().name, magnitude, wanda, sparsegpt, sparsegpt / wanda, no_update);
  // Expected size of the gain: removing w_j with the update costs w_j²/[H⁻¹]_jj instead of
  // w_j²·H_jj, and for AR(1) inputs with ρ = 0.9, 1/[H⁻¹]_jj (the variance of x_j left after
  // regressing on its neighbours) is 1 − ρ² = 0.19 of H_jj; the last columns of the sweep have no
  // later neighbours to absorb their error, so the ratio to Wanda lands higher. Measured (seed 7):
  // 0.32 at 50%, 0.22 at 2:4. Requiring < 0.6 keeps a wide margin over those and still asks for
  // a 40% cut. The gain is the update's: the same mask on the original weights does worse than
  // Wanda (measured 1.15 and 0.95 of Wanda's error, SparseGPT 0.28 and 0.24 of it), so the second
  // check (< 0.5) fails if the update were missing or wrong-signed.
  EXPECT_LT(sparsegpt, 0.6 * wanda);
  EXPECT_LT(sparsegpt, 0.5 * no_update);
  // Wanda beats magnitude here because of the outlier channels (measured 0.19 and 0.29 of
  // magnitude's error); checked only as an ordering.
  EXPECT_LT(wanda, magnitude);
}

INSTANTIATE_TEST_SUITE_P(Targets, SparseGptErrorTest,
                         ::testing::Values(Case{"half", {.sparsity = 0.5}},
                                           Case{"two_of_four", {.n = 2, .m = 4}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SparseGptTest, PerRowSparsityIsExact) {
  const Layer l = MakeLayer();
  // 0.37 · 512 = 189.44: every row removes exactly floor() = 189, though the 4 blocks of 128 take
  // 47, 47, 48, 47 (floor(0.37·i2) − floor(0.37·i1)).
  for (double s : {0.37, 0.5, 0.7}) {
    const SparseGptResult r = Prune(l, {.sparsity = s});
    const auto want = static_cast<int64_t>(std::floor(s * kIn));
    EXPECT_EQ(r.removed, want * kOut) << s;
    for (int64_t o = 0; o < kOut; ++o) {
      int64_t masked = 0, zeros = 0;
      for (int64_t i = 0; i < kIn; ++i) {
        masked += r.mask[o * kIn + i];
        zeros += r.weights[o * kIn + i] == 0.0f;
        if (r.mask[o * kIn + i]) {
          ASSERT_EQ(r.weights[o * kIn + i], 0.0f) << o << "," << i;
        }
      }
      EXPECT_EQ(masked, want) << "row " << o << " at " << s;
      // Kept weights were updated, not zeroed (a kept weight landing on exactly 0 is possible in
      // principle but has probability ~0 with Gaussian weights).
      EXPECT_EQ(zeros, want) << "row " << o << " at " << s;
    }
  }
}

// Row scope: each row still removes exactly floor(s·C_in), however unevenly over its blocks, and
// the update keeps its advantage over Wanda on the correlated layer.
TEST(SparseGptTest, RowScopeIsExactPerRowAndBeatsWanda) {
  const Layer l = MakeLayer();
  const SparseGptOptions row{.mask_scope = SparseGptMaskScope::kRow};
  for (double s : {0.37, 0.5, 0.7}) {
    const SparseGptResult r = Prune(l, {.sparsity = s}, 2, row);
    const auto want = static_cast<int64_t>(std::floor(s * kIn));
    for (int64_t o = 0; o < kOut; ++o) {
      int64_t masked = 0;
      for (int64_t i = 0; i < kIn; ++i) {
        masked += r.mask[o * kIn + i];
        if (r.mask[o * kIn + i]) {
          ASSERT_EQ(r.weights[o * kIn + i], 0.0f) << o << "," << i;
        }
      }
      ASSERT_EQ(masked, want) << "row " << o << " at " << s;
    }
  }
  const SparsityTarget half{.sparsity = 0.5};
  const double wanda = OutputError(l, PrunedByScore(l, l.norm, half));
  const double by_row = OutputError(l, Prune(l, half, 2, row).weights);
  std::printf("row scope at 50%%: output error %.4g (%.3f of Wanda)\n", by_row, by_row / wanda);
  // Same margin as LowerOutputErrorThanMagnitudeAndWanda (block scope measured 0.32 of Wanda).
  EXPECT_LT(by_row, 0.6 * wanda);
}

// With uncorrelated inputs of equal variance (H = I) the OBS score is w² and nothing is updated
// (U is diagonal), so row scope must pick exactly what per-row magnitude pruning picks
// (prune/sparsity.h, PruneRow: a separate implementation). Block scope must not: the first block
// holds every row's largest weights, yet it loses its share of each row.
TEST(SparseGptTest, RowScopeWithIdentityHessianIsPerRowMagnitude) {
  constexpr int64_t in = 64, out = 6, block = 16;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> W(static_cast<size_t>(in * out));
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) W[o * in + i] = normal(rng) * (i < block ? 10.0f : 1.0f);
  }
  std::vector<double> H(static_cast<size_t>(in * in), 0.0);
  for (int64_t i = 0; i < in; ++i) H[i * in + i] = 1.0;
  const SparsityTarget half{.sparsity = 0.5};
  std::vector<float> magnitude = W;
  std::vector<int32_t> scratch;
  for (int64_t o = 0; o < out; ++o) {
    PruneRow(std::span<float>(magnitude.data() + o * in, in), {}, half, scratch);
  }
  ThreadPool pool(1);
  auto by_row = SparseGptPrune(
      W, out, in, H, half, {.block_columns = block, .mask_scope = SparseGptMaskScope::kRow}, pool);
  auto by_block = SparseGptPrune(W, out, in, H, half, {.block_columns = block}, pool);
  ASSERT_TRUE(by_row.ok() && by_block.ok());
  for (size_t i = 0; i < W.size(); ++i) {
    ASSERT_EQ(by_row->mask[i] != 0, magnitude[i] == 0.0f) << i;
    // Kept weights are unchanged: no correlation, no update.
    if (by_row->mask[i] == 0) {
      ASSERT_EQ(by_row->weights[i], W[i]) << i;
    }
  }
  for (int64_t o = 0; o < out; ++o) {
    int64_t first_block = 0;
    for (int64_t i = 0; i < block; ++i) first_block += by_block->mask[o * in + i];
    EXPECT_EQ(first_block, block / 2) << "row " << o;
  }
}

TEST(SparseGptTest, PatternKeepsExactlyNOfEachGroup) {
  const Layer l = MakeLayer();
  for (const SparsityTarget t : {SparsityTarget{.n = 2, .m = 4}, SparsityTarget{.n = 1, .m = 8},
                                 SparsityTarget{.n = 5, .m = 16}}) {
    const SparseGptResult r = Prune(l, t);
    for (int64_t o = 0; o < kOut; ++o) {
      for (int64_t g = 0; g < kIn; g += t.m) {
        int kept = 0;
        for (int64_t i = g; i < g + t.m; ++i) kept += r.mask[o * kIn + i] == 0;
        ASSERT_EQ(kept, t.n) << t.Describe() << " row " << o << " group " << g;
      }
    }
  }
}

TEST(SparseGptTest, SparsityZeroLeavesTheLayerUnchanged) {
  const Layer l = MakeLayer();
  const SparseGptResult r = Prune(l, {.sparsity = 0.0});
  EXPECT_EQ(r.removed, 0);
  ASSERT_EQ(r.weights.size(), l.W.size());
  EXPECT_EQ(std::memcmp(r.weights.data(), l.W.data(), l.W.size() * sizeof(float)), 0);
}

TEST(SparseGptTest, SameResultOnAnyThreadCount) {
  const Layer l = MakeLayer();
  const SparseGptResult a = Prune(l, {.sparsity = 0.5}, 1);
  const SparseGptResult b = Prune(l, {.sparsity = 0.5}, 3);
  EXPECT_EQ(a.mask, b.mask);
  EXPECT_EQ(a.weights, b.weights);
}

TEST(SparseGptTest, DeadInputsAreRemovedFirst) {
  Layer l = MakeLayer();
  // Input 3 never fires: its Hessian row and column are zero, so removing it costs nothing.
  for (int64_t i = 0; i < kIn; ++i) l.H[3 * kIn + i] = l.H[i * kIn + 3] = 0;
  const SparseGptResult r = Prune(l, {.sparsity = 0.1});
  EXPECT_EQ(r.dead_columns, 1);
  for (int64_t o = 0; o < kOut; ++o) EXPECT_EQ(r.mask[o * kIn + 3], 1) << o;
}

TEST(SparseGptTest, BadInputIsAnError) {
  const Layer l = MakeLayer();
  ThreadPool pool(1);
  EXPECT_FALSE(SparseGptPrune(l.W, kOut - 1, kIn, l.H, {.sparsity = 0.5}, {}, pool).ok());
  EXPECT_FALSE(SparseGptPrune(l.W, kOut, kIn, l.H, {.sparsity = 1.0}, {}, pool).ok());
  EXPECT_FALSE(SparseGptPrune(l.W, kOut, kIn, l.H, {.n = 2, .m = 5}, {}, pool).ok());
  EXPECT_FALSE(
      SparseGptPrune(l.W, kOut, kIn, l.H, {.sparsity = 0.5}, {.block_columns = 0}, pool).ok());
}

// The whole-model path: every block linear of a tiny model is pruned to exactly 50% per row
// (token_embd untouched), and sparsity 0 gives the same weights back.
TEST(SparseGptModelTest, PrunesEveryBlockLinearExactly) {
  const Config c = TinyTestConfig(2);
  std::mt19937 rng(5);
  std::vector<TokenId> tokens(4 * 32);
  for (TokenId& t : tokens) t = static_cast<TokenId>(rng() % c.vocab_size);
  const CalibrationPlan plan{.n_ctx = 32, .n_chunk = 4};
  for (double s : {0.0, 0.5}) {
    std::unique_ptr<Model> model = RandomF32Model(c, 11);
    const std::unique_ptr<Model> original = RandomF32Model(c, 11);
    SparseGptModelOptions o;
    auto report = SparseGptPruneModel(*model, {.sparsity = s}, tokens, plan, o);
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->tensors, 2 * 7);
    EXPECT_EQ(report->removed, static_cast<int64_t>(std::round(report->total * s)));
    for (int l = 0; l < c.n_layers; ++l) {
      for (TensorRole role :
           {TensorRole::kAttnQ, TensorRole::kAttnK, TensorRole::kAttnV, TensorRole::kAttnOutput,
            TensorRole::kFfnGate, TensorRole::kFfnUp, TensorRole::kFfnDown}) {
        const TensorView& v = model->weights.layers[l].*SpecOf(role).layer_member;
        const TensorView& w = original->weights.layers[l].*SpecOf(role).layer_member;
        ASSERT_EQ(v.type, TensorType::kF32);
        const auto* p = reinterpret_cast<const float*>(v.data.data());
        const auto* q = reinterpret_cast<const float*>(w.data.data());
        for (int64_t r = 0; r < v.rows(); ++r) {
          int64_t zeros = 0;
          for (int64_t i = 0; i < v.cols(); ++i) zeros += p[r * v.cols() + i] == 0.0f;
          ASSERT_EQ(zeros, static_cast<int64_t>(s * v.cols())) << v.name << " row " << r;
        }
        if (s == 0.0) {
          EXPECT_EQ(std::memcmp(p, q, v.data.size()), 0) << v.name;
        }
      }
    }
    EXPECT_EQ(
        std::memcmp(model->weights.token_embd.data.data(), original->weights.token_embd.data.data(),
                    model->weights.token_embd.data.size()),
        0);
  }
}

}  // namespace
}  // namespace shrink
