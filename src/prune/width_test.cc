// Width pruning on tiny random models: pruning nothing is the dense model bit for bit; removing FFN
// channels or heads is exactly the dense model with those channels' / heads' output columns zeroed
// (an independent construction of the same function); hidden pruning keeps shapes consistent;
// per-layer widths round-trip through GGUF as the "deci" architecture; bad widths are one-line
// errors.
#include "prune/width.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "io/gguf.h"
#include "model/loaders.h"
#include "model/prepared_model.h"
#include "model/tiny_model_test_util.h"
#include "model/transformer.h"
#include "prune/param_count.h"
#include "prune/pruned_gguf.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<TokenId> kTokens = {1, 17, 42, 99, 3, 127, 64, 5};

std::vector<float> Logits(const Model& model) {
  const PreparedModel prepared(model);
  InferenceSession session(prepared, 16);
  std::vector<float> logits(kTokens.size() * model.config.vocab_size);
  const Status s = session.Evaluate(kTokens, logits);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

// Scores drawn at random (what calibration would give; the tests only need a fixed ranking).
WidthScores RandomScores(const Config& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  WidthScores s;
  for (int l = 0; l < c.n_layers; ++l) {
    s.ffn_channel.emplace_back(c.layers[l].ffn_dim);
    s.head.emplace_back(c.layers[l].n_heads);
    s.attn_column.emplace_back(c.q_dim(l));
    for (double& v : s.ffn_channel.back()) v = u(rng);
    for (double& v : s.head.back()) v = u(rng);
    for (double& v : s.attn_column.back()) v = u(rng);
  }
  s.hidden.resize(c.d_model);
  for (double& v : s.hidden) v = u(rng);
  return s;
}

// A copy of `model` whose F32 matrix `member` of layer `l` has the columns `zero` set to 0.
void ZeroColumns(Model& model, int l, TensorView LayerWeights::*member,
                 const std::vector<int>& zero) {
  TensorView& t = model.weights.layers[l].*member;
  auto buffer = std::make_shared<std::vector<float>>(t.f32().begin(), t.f32().end());
  for (int64_t r = 0; r < t.rows(); ++r) {
    for (int j : zero) (*buffer)[r * t.cols() + j] = 0.0f;
  }
  t.data = {reinterpret_cast<const uint8_t*>(buffer->data()), buffer->size() * sizeof(float)};
  model.weights.storage.push_back(buffer);
}

std::vector<int> Complement(const std::vector<int>& kept, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    if (std::find(kept.begin(), kept.end(), i) == kept.end()) out.push_back(i);
  }
  return out;
}

// The model with the same weights (views share the source's buffers).
std::unique_ptr<Model> Alias(const Model& m) {
  auto out = std::make_unique<Model>();
  out->config = m.config;
  out->weights = m.weights;
  out->metadata = m.metadata;
  return out;
}

// The collector's means on hand-made inputs (values chosen so every norm is exact).
TEST(WidthScoreCollectorTest, MeansOfAbsoluteValuesAndHeadNorms) {
  const Config c = TinyTestConfig(2);  // head_dim 16, 4 heads, FFN 96, width 64
  WidthScoreCollector collector(c);
  std::vector<float> h(2 * 96, 0.0f);
  h[5] = -2.0f;       // row 0, channel 5
  h[96 + 5] = 4.0f;   // row 1, channel 5
  h[96 + 7] = -1.0f;  // row 1, channel 7
  collector.OnLinearInput(1, TensorRole::kFfnDown, h, 2);
  std::vector<float> a(64, 0.0f);  // one row; head 2 = columns 32..47
  a[32] = 3.0f;
  a[33] = -4.0f;
  collector.OnLinearInput(0, TensorRole::kAttnOutput, a, 1);
  std::vector<float> x(64, 0.0f);
  x[0] = 3.0f;
  x[1] = 4.0f;
  collector.OnResidual(0, ResidualPoint::kBlockInput, x, 1);
  collector.OnResidual(0, ResidualPoint::kBlockOutput, a, 1);  // ignored
  const WidthScores s = collector.Scores();
  EXPECT_DOUBLE_EQ(s.ffn_channel[1][5], 3.0);  // (2 + 4) / 2
  EXPECT_DOUBLE_EQ(s.ffn_channel[1][7], 0.5);
  EXPECT_DOUBLE_EQ(s.ffn_channel[0][5], 0.0);  // nothing seen
  EXPECT_DOUBLE_EQ(s.head[0][2], 5.0);         // ‖(3, -4)‖
  EXPECT_DOUBLE_EQ(s.head[0][1], 0.0);
  EXPECT_DOUBLE_EQ(s.attn_column[0][33], 4.0);
  EXPECT_DOUBLE_EQ(s.residual_norm[0], 5.0);
}

TEST(WidthPruneTest, PruningNothingGivesTheDenseModelsLogits) {
  for (const char* arch : {"llama", "gemma3"}) {
    const auto model = RandomF32Model(TinyTestConfig(2, arch), 1);
    const auto pruned = WidthPrunedModel(*model, FullWidthPlan(model->config));
    ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
    // The same F32 weights in the same order: bit for bit.
    EXPECT_EQ(Logits(**pruned), Logits(*model)) << arch;
  }
}

TEST(WidthPruneTest, RemovedChannelsAndHeadsEqualZeroedOutputColumns) {
  // TinyTestConfig: 4 query heads, 2 KV heads (groups of 2), FFN 96, head_dim 16.
  const auto model = RandomF32Model(TinyTestConfig(2), 2);
  const Config& c = model->config;
  const WidthScores scores = RandomScores(c, 7);
  const UniformWidths w = *ResolveUniformWidths(c, {.ffn = 64, .heads = 2}, 32, "Q4_0");
  EXPECT_EQ(w.kv_heads, 1);  // whole groups: 2 heads = 1 group of 2
  const WidthPlan plan = UniformWidthPlan(c, scores, w);
  const auto pruned = WidthPrunedModel(*model, plan);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();

  // The reference: the dense model where every removed FFN channel's ffn_down column and every
  // removed query head's attn_output columns are 0 (their contribution to the residual is gone;
  // the removed KV head feeds only removed query heads).
  auto reference = Alias(*model);
  for (int l = 0; l < c.n_layers; ++l) {
    ZeroColumns(*reference, l, &LayerWeights::ffn_down, Complement(plan.ffn[l], c.ffn_dim));
    std::vector<int> head_cols;
    for (int h : Complement(plan.q_heads[l], c.n_heads)) {
      for (int i = 0; i < c.head_dim; ++i) head_cols.push_back(h * c.head_dim + i);
    }
    ZeroColumns(*reference, l, &LayerWeights::attn_output, head_cols);
  }
  const std::vector<float> got = Logits(**pruned);
  const std::vector<float> want = Logits(*reference);
  ASSERT_EQ(got.size(), want.size());
  // Same products with the zero terms left out of each dot product: only the summation order of
  // F32 accumulations differs (≤ ~100 terms of size ~0.05² per product, a few ulps of O(1) logits).
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4f) << i;
  // Not vacuous: the removed units mattered.
  const std::vector<float> dense = Logits(*model);
  double max_change = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_change = std::max<double>(max_change, std::fabs(got[i] - dense[i]));
  }
  EXPECT_GT(max_change, 1e-2);
}

TEST(WidthPruneTest, HeadsGoInWholeGroupsOfTheirKvHead) {
  const Config c = TinyTestConfig(2);
  const WidthScores scores = RandomScores(c, 3);
  const UniformWidths w = *ResolveUniformWidths(c, {.kv_heads = 1}, 1, "F32");
  EXPECT_EQ(w.heads, 2);
  const WidthPlan plan = UniformWidthPlan(c, scores, w);
  for (int l = 0; l < c.n_layers; ++l) {
    ASSERT_EQ(plan.kv_heads[l].size(), 1u);
    const int g = plan.kv_heads[l][0];
    EXPECT_THAT(plan.q_heads[l], ElementsAre(2 * g, 2 * g + 1));
    // The kept group is the one whose query heads score higher in sum.
    const double kept = scores.head[l][2 * g] + scores.head[l][2 * g + 1];
    const double other = scores.head[l][2 * (1 - g)] + scores.head[l][2 * (1 - g) + 1];
    EXPECT_GE(kept, other);
  }
}

TEST(WidthPruneTest, HiddenPruningShapesAreConsistentAndTheModelRuns) {
  for (const char* arch : {"llama", "gemma3"}) {
    const auto model = RandomF32Model(TinyTestConfig(2, arch), 4);
    const Config& c = model->config;
    const UniformWidths w =
        *ResolveUniformWidths(c, {.ffn = 32, .heads = 2, .hidden = 32}, 32, "Q4_0");
    const auto pruned = WidthPrunedModel(*model, UniformWidthPlan(c, RandomScores(c, 5), w));
    ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
    const Config& p = (*pruned)->config;
    EXPECT_EQ(p.d_model, 32);
    EXPECT_EQ(p.head_dim, 16);  // kept: attention is 2 × 16 wide inside a 32-wide stream
    EXPECT_EQ((*pruned)->weights.token_embd.shape, (std::vector<int64_t>{32, 128}));
    EXPECT_EQ((*pruned)->weights.layers[1].attn_output.shape, (std::vector<int64_t>{32, 32}));
    EXPECT_EQ((*pruned)->weights.layers[1].attn_k.shape, (std::vector<int64_t>{32, 16}));
    EXPECT_EQ((*pruned)->weights.layers[1].ffn_down.shape, (std::vector<int64_t>{32, 32}));
    EXPECT_EQ((*pruned)->weights.output_norm.shape, (std::vector<int64_t>{32}));
    for (float v : Logits(**pruned)) ASSERT_TRUE(std::isfinite(v)) << arch;
    EXPECT_EQ(ParamCount(p), 32 * 128 +
                                 2 * (2 * 32 + 32 * 32 + 2 * 16 * 32 + 32 * 32 + 3 * 32 * 32) + 32 +
                                 (c.qk_norm ? 2 * 2 * 16 : 0) + (c.post_norms ? 2 * 2 * 32 : 0));
  }
}

// Per-layer widths go to GGUF as "deci" with i32 arrays and an explicit key_length; shrink's
// loader reads them back into the same config and the same logits.
TEST(WidthPruneTest, PerLayerWidthsRoundTripThroughGguf) {
  const auto model = RandomF32Model(TinyTestConfig(3), 6);
  WidthPlan plan = FullWidthPlan(model->config);
  plan.ffn[1] = {0, 5, 9, 33, 40, 41, 60, 61, 70, 71, 72, 73, 80, 81, 82, 95,
                 1, 2, 3, 4,  6,  7,  8,  10, 11, 12, 13, 14, 15, 16, 17, 18};
  std::sort(plan.ffn[1].begin(), plan.ffn[1].end());
  plan.kv_heads[2] = {1};
  plan.q_heads[2] = {2, 3};
  plan.hidden.resize(48);
  const auto pruned = WidthPrunedModel(*model, plan);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  const GgufMetadata& m = (*pruned)->metadata;
  auto find = [&](const std::string& key) -> const GgufValue* {
    for (const auto& [k, v] : m) {
      if (k == key) return &v;
    }
    return nullptr;
  };
  ASSERT_NE(find("general.architecture"), nullptr);
  EXPECT_EQ(find("general.architecture")->AsString(), "deci");
  ASSERT_NE(find("deci.feed_forward_length"), nullptr);
  EXPECT_EQ(find("deci.feed_forward_length")->type, GgufValueType::kArray);
  EXPECT_EQ(find("llama.feed_forward_length"), nullptr);
  ASSERT_NE(find("deci.attention.key_length"), nullptr);
  EXPECT_EQ(find("deci.attention.key_length")->AsInt(), 16);
  EXPECT_EQ(find("deci.embedding_length")->AsInt(), 48);

  std::vector<PrunedTensor> tensors;
  (*pruned)->weights.ForEachTensor([&](const TensorView& t) {
    tensors.push_back({&t, TensorType::kF32, {}});
  });
  const std::string path = (testing::ScratchDir() / "width_per_layer.gguf").string();
  ASSERT_TRUE(WritePrunedGguf(path, m, tensors, {}).ok());
  Result<std::unique_ptr<Model>> loaded = LoadGgufTransformer(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Config& lc = (*loaded)->config;
  EXPECT_EQ(lc.d_model, 48);
  EXPECT_EQ(lc.head_dim, 16);
  EXPECT_EQ(lc.layers[0].ffn_dim, 96);
  EXPECT_EQ(lc.layers[1].ffn_dim, 32);
  EXPECT_EQ(lc.layers[2].n_heads, 2);
  EXPECT_EQ(lc.layers[2].n_kv_heads, 1);
  EXPECT_EQ(lc.layers[0].n_heads, 4);
  EXPECT_EQ(Logits(**loaded), Logits(**pruned));
}

TEST(WidthPruneTest, PerLayerWidthsOnGemma3AreAnError) {
  const auto model = RandomF32Model(TinyTestConfig(2, "gemma3"), 7);
  WidthPlan plan = FullWidthPlan(model->config);
  plan.ffn[0].resize(32);
  const auto pruned = WidthPrunedModel(*model, plan);
  ASSERT_FALSE(pruned.ok());
  EXPECT_THAT(pruned.status().ToString(), HasSubstr("gemma3 loader takes one head count"));
}

TEST(WidthPruneTest, BudgetKeepsWholeChunksAndGroupsAndMeetsTheTarget) {
  const auto model = RandomF32Model(TinyTestConfig(3), 8);
  const Config& c = model->config;
  const int64_t source = ParamCount(c);
  const int64_t target = source * 85 / 100;
  const auto plan = BudgetWidthPlan(*model, RandomScores(c, 9), FullWidthPlan(c), target, 32);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const Config p = WidthPrunedConfig(c, *plan);
  EXPECT_LE(ParamCount(p), target);
  bool any_removed = false;
  for (int l = 0; l < c.n_layers; ++l) {
    EXPECT_EQ(p.layers[l].ffn_dim % 32, 0) << l;
    EXPECT_GE(p.layers[l].ffn_dim, 32) << l;
    EXPECT_GE(p.layers[l].n_kv_heads, 1) << l;
    EXPECT_EQ(p.layers[l].n_heads, 2 * p.layers[l].n_kv_heads) << l;
    any_removed |= p.layers[l].ffn_dim < 96 || p.layers[l].n_kv_heads < 2;
  }
  EXPECT_TRUE(any_removed);
  for (float v : Logits(**WidthPrunedModel(*model, *plan))) ASSERT_TRUE(std::isfinite(v));

  const auto too_small = BudgetWidthPlan(*model, RandomScores(c, 9), FullWidthPlan(c), 1000, 32);
  ASSERT_FALSE(too_small.ok());
  EXPECT_THAT(too_small.status().ToString(), HasSubstr("smallest this width pruning reaches"));
  // The floor known before scores: FFN 32 and one group of 2 heads in each of 3 layers.
  EXPECT_EQ(BudgetFloorParams(c, 64, 32),
            64 * 128 + 64 + 3 * (2 * 64 + 32 * 64 + 2 * 16 * 64 + 32 * 64 + 3 * 32 * 64));
  EXPECT_THAT(too_small.status().ToString(),
              HasSubstr(std::to_string(BudgetFloorParams(c, 64, 32))));
}

TEST(WidthPruneTest, BadWidthsAreOneLineErrors) {
  const Config c = TinyTestConfig(2);  // 4 heads, 2 KV heads, FFN 96, hidden 64
  auto error = [&](UniformWidths w, int64_t multiple = 32) {
    const auto r = ResolveUniformWidths(c, w, multiple, "Q4_0");
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.status().ToString();
  };
  EXPECT_THAT(error({.heads = 6}), HasSubstr("--heads 6: the model has 4 query heads"));
  EXPECT_THAT(error({.kv_heads = 3}), HasSubstr("the model has 2 key/value heads"));
  EXPECT_THAT(error({.heads = 3, .kv_heads = 2}),
              HasSubstr("--kv-heads 2 does not divide --heads 3"));
  EXPECT_THAT(error({.heads = 3}), HasSubstr("whole groups: use a multiple of 2"));
  EXPECT_THAT(error({.ffn = 0}), HasSubstr("--ffn 0: every layer needs at least one FFN channel"));
  EXPECT_THAT(error({.ffn = 200}), HasSubstr("layer 0 has 96 FFN channels"));
  EXPECT_THAT(error({.ffn = 80}), HasSubstr("nearest valid: 64 or 96"));
  EXPECT_THAT(error({.hidden = 40}), HasSubstr("--hidden 40: rows of 40 are not whole 32-element "
                                               "blocks of Q4_0; nearest valid: 32 or 64"));
  EXPECT_THAT(error({.ffn = 20}), HasSubstr("nearest valid: 32"));
  // F32 output (multiple 1) takes any width.
  EXPECT_TRUE(ResolveUniformWidths(c, {.ffn = 80, .hidden = 40}, 1, "F32").ok());
  EXPECT_THAT(ParseParamCount("--target-params", "100Q").status().ToString(),
              HasSubstr("expected a positive parameter count"));
  EXPECT_EQ(*ParseParamCount("--target-params", "1.5M"), 1500000);
}

}  // namespace
}  // namespace shrink
