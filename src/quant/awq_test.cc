// AWQ scales (quant/awq.h): folding leaves the float model's function unchanged (issue 7 asks for
// this test), the Gram-matrix loss equals the output error measured on the activations
// themselves, and the search finds α > 0 where a few input channels carry outliers.
#include "quant/awq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/blas_threads.h"
#include "model/architecture.h"
#include "model/model.h"
#include "model/prepared_model.h"
#include "model/tiny_model_test_util.h"
#include "model/transformer.h"

namespace shrink {
namespace {

Config SmallConfig(std::string_view arch) {
  Config c = TinyTestConfig(2, arch);
  c.vocab_size = 40;
  c.context_length = 32;
  return c;
}

// Matrices N(0, 0.2²), norms 1 + N(0, 0.2²).
std::unique_ptr<Model> RandomModel(const Config& config, uint32_t seed) {
  return RandomF32Model(config, seed, 0.2f, 0.2f);
}

std::vector<float> Logits(const Model& model, std::span<const TokenId> tokens) {
  const PreparedModel prepared(model);
  InferenceSession session(prepared, 16);
  std::vector<float> logits(tokens.size() * model.config.vocab_size);
  const Status s = session.Evaluate(tokens, logits);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double{a[i]} - b[i]));
  return m;
}

std::vector<float> RandomScales(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 0.7f);  // factors of about 1/4 to 4
  std::vector<float> s(n);
  for (float& v : s) v = std::exp(g(rng));
  return s;
}

class FoldTest : public ::testing::TestWithParam<const char*> {};

// Every fold is exact in real arithmetic; in F32 each touched weight product picks up at most
// three roundings (w·s, w_norm/s, and the activation's product with it): a relative change of
// ≤ 3u ≈ 1.8e-7 per weight. Logits here are O(1) and each passes through ≤ 8 folded products in
// series (4 per layer, 2 layers), with norms and softmax whose condition for these random
// weights is O(10): ≤ 3u · 8 · 10 ≈ 1.5e-5 of the logit scale. The bound below is that, with
// the scale taken as max(1, max |logit|). The control (the norm left unfolded) moves logits by
// orders of magnitude more, so the test can fail.
TEST_P(FoldTest, FoldedFloatModelIsUnchanged) {
  const Config c = SmallConfig(GetParam());
  std::unique_ptr<Model> model = RandomModel(c, 1);
  const std::vector<TokenId> tokens = {1, 5, 9, 3, 22, 7, 30, 2};
  const std::vector<float> before = Logits(*model, tokens);
  double scale = 1.0;
  for (float v : before) scale = std::max(scale, double{std::abs(v)});

  std::mt19937 rng(2);
  std::unique_ptr<Model> folded = RandomModel(c, 1);
  std::unique_ptr<Model> control = RandomModel(c, 1);
  for (int l = 0; l < c.n_layers; ++l) {
    AwqLayerScales s;
    s.attn_in = RandomScales(c.d_model, rng);
    s.ffn_in = RandomScales(c.d_model, rng);
    s.v_out = RandomScales(c.kv_dim(l), rng);
    s.up_out = RandomScales(c.layers[l].ffn_dim, rng);
    ASSERT_TRUE(FoldAwqScales(c, l, s, folded->weights).ok());
    ASSERT_TRUE(FoldAwqScales(c, l, s, control->weights).ok());
    control->weights.layers[l].attn_norm = model->weights.layers[l].attn_norm;  // half a fold
  }
  EXPECT_EQ(folded->weights.layers[0].attn_q.type, TensorType::kF32);
  const double diff = MaxAbsDiff(before, Logits(*folded, tokens));
  const double bound = 3 * 0x1p-24 * 8 * 10 * scale;
  EXPECT_LE(diff, bound) << "logit scale " << scale;
  EXPECT_GT(MaxAbsDiff(before, Logits(*control, tokens)), 100 * bound);
}

INSTANTIATE_TEST_SUITE_P(Architectures, FoldTest, ::testing::Values("llama", "gemma3"));

TEST(FoldAwqScales, RejectsBadScales) {
  const Config c = SmallConfig("llama");
  std::unique_ptr<Model> model = RandomModel(c, 3);
  AwqLayerScales s;
  s.attn_in.assign(c.d_model - 1, 1.0f);
  EXPECT_FALSE(FoldAwqScales(c, 0, s, model->weights).ok());
  s.attn_in.assign(c.d_model, 1.0f);
  s.attn_in[3] = 0.0f;
  const Status zero = FoldAwqScales(c, 0, s, model->weights);
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.message().find("scale 3"), std::string::npos) << zero.message();
  EXPECT_FALSE(FoldAwqScales(c, 5, AwqLayerScales{}, model->weights).ok());
}

TEST(KvChannelOfQueryColumn, QueryHeadsReadTheirKvHead) {
  Config c = SmallConfig("llama");
  c.head_dim = 2;
  c.SetUniformLayers();
  EXPECT_EQ(KvChannelOfQueryColumn(c, 0), (std::vector<int32_t>{0, 1, 0, 1, 2, 3, 2, 3}));
}

// A layer whose inputs have a few outlier channels (×30), as LLM activations do.
struct OutlierLayer {
  int64_t rows = 48, cols = 128, n = 512;
  std::vector<float> w, x;  // W: rows × cols, X: n × cols
  GramEntry gram;
  explicit OutlierLayer(int64_t rows_ = 48) : rows(rows_), w(rows * cols), x(n * cols) {
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (float& v : w) v = 0.05f * g(rng);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t j = 0; j < cols; ++j) {
        x[t * cols + j] = g(rng) * (j % 37 == 5 ? 30.0f : 1.0f);
      }
    }
    gram.cols = cols;
    gram.rows = n;
    gram.xtx.assign(cols * cols, 0.0);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t i = 0; i < cols; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          gram.xtx[i * cols + j] += double{x[t * cols + i]} * x[t * cols + j];
        }
      }
    }
  }
};

// The loss from the Gram matrix against the mean squared output error measured on X itself:
// ŷ − y = x·ΔWᵀ for every calibration row. Both are F64 sums of the same products in another
// order: agreement to ~1e-12 relative.
TEST(ScaledQuantError, EqualsTheOutputErrorOnTheActivations) {
  const OutlierLayer L;
  std::vector<float> s(L.cols);
  for (int64_t j = 0; j < L.cols; ++j) s[j] = 0.5f + 0.01f * j;
  const AwqMatrix m{.w = L.w, .rows = L.rows, .cols = L.cols, .type = {}, .importance = {}};
  const double from_gram = ScaledQuantError(m, s, {}, L.gram, TensorType::kQ4_0);

  const TypeTraits& q4 = Traits(TensorType::kQ4_0);
  std::vector<float> scaled(L.cols), decoded(L.cols);
  std::vector<uint8_t> blocks(L.cols / 32 * q4.block_bytes);
  std::vector<double> dw(L.rows * L.cols);
  for (int64_t r = 0; r < L.rows; ++r) {
    for (int64_t j = 0; j < L.cols; ++j) scaled[j] = L.w[r * L.cols + j] * s[j];
    q4.encode(scaled.data(), blocks.data(), L.cols);
    q4.decode(blocks.data(), decoded.data(), L.cols);
    for (int64_t j = 0; j < L.cols; ++j) {
      dw[r * L.cols + j] = double{decoded[j]} / s[j] - L.w[r * L.cols + j];
    }
  }
  double direct = 0;
  for (int64_t t = 0; t < L.n; ++t) {
    for (int64_t r = 0; r < L.rows; ++r) {
      double y = 0;
      for (int64_t j = 0; j < L.cols; ++j) y += L.x[t * L.cols + j] * dw[r * L.cols + j];
      direct += y * y;
    }
  }
  direct /= static_cast<double>(L.n);
  EXPECT_GT(direct, 0);
  EXPECT_NEAR(from_gram, direct, 1e-9 * direct);
}

// Row tiles on a pool: 200 rows are four tiles of 64 rows (the last of 8) shared among 3 threads.
// Each tile's sum is kept apart and the sums are added in tile order, so the loss is the same
// double, bit for bit, as on the calling thread alone (a sum in claim order, or scratch shared
// between threads, would differ from run to run).
TEST(ScaledQuantError, SameOnAPoolAsOnOneThread) {
  const OutlierLayer L(200);
  std::vector<float> s(L.cols), importance(L.cols);
  for (int64_t j = 0; j < L.cols; ++j) {
    s[j] = 0.5f + 0.01f * j;
    importance[j] = 1.0f + 0.1f * static_cast<float>(j % 7);  // any positive column weights
  }
  const AwqMatrix plain{.w = L.w, .rows = L.rows, .cols = L.cols, .type = {}, .importance = {}};
  const AwqMatrix weighted{
      .w = L.w, .rows = L.rows, .cols = L.cols, .type = {}, .importance = importance};
  ScopedBlasThreads blas(1);
  ThreadPool pool(3), single(1);
  for (const AwqMatrix* m : {&plain, &weighted}) {
    const double serial = ScaledQuantError(*m, s, {}, L.gram, TensorType::kQ4_0);
    EXPECT_GT(serial, 0.0);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(ScaledQuantError(*m, s, {}, L.gram, TensorType::kQ4_0, &pool), serial);
    }
    EXPECT_EQ(ScaledQuantError(*m, s, {}, L.gram, TensorType::kQ4_0, &single), serial);
  }
}

TEST(SearchAwqScales, OutlierChannelsGetScaledAndLoseLess) {
  const OutlierLayer L;
  const AwqMatrix m{.w = L.w, .rows = L.rows, .cols = L.cols, .type = {}, .importance = {}};
  AwqSearchOptions options;
  options.type = TensorType::kQ4_0;
  const Result<AwqSearchResult> r = SearchAwqScales(std::span(&m, 1), L.gram, {}, options);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->alpha, 0.0);
  EXPECT_EQ(r->loss_by_alpha.size(), options.alphas.size());
  EXPECT_DOUBLE_EQ(r->loss_by_alpha[0], r->loss_rtn);
  EXPECT_LT(r->loss, 0.8 * r->loss_rtn) << "alpha " << r->alpha;
  // The outlier channels (RMS ×30) get the largest scales: (30)^α ≈ 3.3 × the others' at α = 0.35.
  const auto top = std::max_element(r->scales.begin(), r->scales.end()) - r->scales.begin();
  EXPECT_EQ(top % 37, 5) << "channel " << top;
  EXPECT_GT(r->scales[5], 2.0f * r->scales[6]);
}

// Sampling rows: with max_rows >= rows every row enters (the same losses exactly); with 16 of the
// 48 rows (every third) the loss is that of those rows × 3, computed here independently from
// ScaledQuantError on the strided rows, and the search still scales the outlier channels.
TEST(SearchAwqScales, SampledRowsEstimateTheLoss) {
  const OutlierLayer L;
  const AwqMatrix m{.w = L.w, .rows = L.rows, .cols = L.cols, .type = {}, .importance = {}};
  AwqSearchOptions options;
  options.alphas = {0.0, 0.25, 0.5};
  const Result<AwqSearchResult> all = SearchAwqScales(std::span(&m, 1), L.gram, {}, options);
  options.max_rows = L.rows;
  const Result<AwqSearchResult> same = SearchAwqScales(std::span(&m, 1), L.gram, {}, options);
  options.max_rows = 16;
  const Result<AwqSearchResult> third = SearchAwqScales(std::span(&m, 1), L.gram, {}, options);
  ASSERT_TRUE(all.ok() && same.ok() && third.ok());
  EXPECT_EQ(all->loss_by_alpha, same->loss_by_alpha);
  std::vector<float> strided;
  for (int64_t r = 0; r < L.rows; r += 3) {
    strided.insert(strided.end(), L.w.begin() + r * L.cols, L.w.begin() + (r + 1) * L.cols);
  }
  const AwqMatrix sub{.w = strided, .rows = 16, .cols = L.cols, .type = {}, .importance = {}};
  const std::vector<float> ones(L.cols, 1.0f);
  const double expected = 3.0 * ScaledQuantError(sub, ones, {}, L.gram, TensorType::kQ4_0);
  EXPECT_NEAR(third->loss_rtn, expected, 1e-12 * expected);
  EXPECT_GT(third->alpha, 0.0);
}

TEST(SearchAwqScales, RejectsMismatchedShapes) {
  const OutlierLayer L;
  const AwqMatrix m{
      .w = std::span(L.w).first(64 * 8), .rows = 8, .cols = 64, .type = {}, .importance = {}};
  EXPECT_FALSE(SearchAwqScales(std::span(&m, 1), L.gram, {}, {}).ok());
  EXPECT_FALSE(SearchAwqScales({}, L.gram, {}, {}).ok());
}

}  // namespace
}  // namespace shrink
