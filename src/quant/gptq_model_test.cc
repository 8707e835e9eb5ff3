// The layer-by-layer calibrated driver (quant/gptq_model.h) in its AWQ modes on a tiny random
// model: with α = 0 as the only candidate AWQ must be exactly plain round-to-nearest (the driver's
// encoder is the writer's), and where a few input channels carry outliers the searched and folded
// scales must lower both the search loss and the quantized model's logit error; folding only
// (fold_only) must leave the float model's function unchanged.
#include "quant/gptq_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "model/prepared_model.h"
#include "model/tiny_model_test_util.h"
#include "model/transformer.h"
#include "quant/mix.h"

namespace shrink {
namespace {

constexpr int32_t kCtx = 32, kChunks = 4;

std::vector<TokenId> RandomTokens(const Config& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<TokenId> token(0, c.vocab_size - 1);
  std::vector<TokenId> out(kCtx * kChunks);
  for (TokenId& t : out) t = token(rng);
  return out;
}

QuantPlan PlanQ4_0(const Model& model) {
  return PlanQuantization(model.config, TensorsInTableOrder(model.weights), **FindMix("Q4_0"),
                          /*pure=*/true);
}

// Logits of `model` for the first chunk of `tokens`.
std::vector<float> Logits(const Model& model, std::span<const TokenId> tokens) {
  const PreparedModel prepared(model);
  InferenceSession session(prepared, kCtx);
  std::vector<float> logits(static_cast<size_t>(kCtx) * model.config.vocab_size);
  const Status s = session.Evaluate(tokens.first(kCtx), logits);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

double SquaredError(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  return sum;
}

Result<GptqModelReport> RunAwq(Model& model, std::span<const TokenId> tokens,
                               std::vector<double> alphas, bool fold_only = false) {
  const QuantPlan plan = PlanQ4_0(model);
  GptqModelOptions options;
  options.use_gptq = false;
  options.fold_only = fold_only;
  options.awq = true;
  options.awq_alphas = std::move(alphas);
  options.threads = 2;
  return GptqQuantizeModel(model, plan, tokens, {.n_ctx = kCtx, .n_chunk = kChunks}, options);
}

TEST(GptqModelAwqTest, AlphaZeroOnlyIsPlainRoundToNearest) {
  const Config c = TinyTestConfig(2);
  std::unique_ptr<Model> model = RandomF32Model(c, 7);
  const QuantPlan reference_plan = PlanQ4_0(*model);
  // The independent reference: every planned linear encoded row by row from the float weights.
  std::vector<std::vector<uint8_t>> expected;
  std::vector<const TensorView*> views;
  const TypeTraits& q4 = Traits(TensorType::kQ4_0);
  for (const TensorPlan& t : reference_plan.tensors) {
    if (t.source->layer < 0 || t.type != TensorType::kQ4_0) continue;
    const int64_t row_bytes = t.source->cols() / q4.block_elements * q4.block_bytes;
    std::vector<uint8_t> bytes(static_cast<size_t>(t.source->rows() * row_bytes));
    const float* w = reinterpret_cast<const float*>(t.source->data.data());
    for (int64_t r = 0; r < t.source->rows(); ++r) {
      q4.encode(w + r * t.source->cols(), bytes.data() + r * row_bytes, t.source->cols());
    }
    expected.push_back(std::move(bytes));
    views.push_back(t.source);
  }
  ASSERT_EQ(views.size(), 14u);  // 7 linears per layer
  const std::vector<TokenId> tokens = RandomTokens(c, 3);
  Result<GptqModelReport> report = RunAwq(*model, tokens, {0.0});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->awq_groups, 4 * c.n_layers);
  EXPECT_EQ(report->awq_scaled, 0);
  EXPECT_EQ(report->tensors, 14);
  for (size_t i = 0; i < views.size(); ++i) {
    SCOPED_TRACE(views[i]->name);
    EXPECT_EQ(views[i]->type, TensorType::kQ4_0);
    ASSERT_EQ(views[i]->data.size(), expected[i].size());
    EXPECT_TRUE(std::equal(expected[i].begin(), expected[i].end(), views[i]->data.begin()));
  }
}

// A few channels of every norm 8x larger: inputs with outlier channels, the case AWQ's scaling
// is for (a finer grid for the columns that carry most of the output).
std::unique_ptr<Model> OutlierModel(const Config& c) {
  std::unique_ptr<Model> m = RandomF32Model(c, 11, 0.0f);
  for (LayerWeights& layer : m->weights.layers) {
    for (TensorView* norm : {&layer.attn_norm, &layer.ffn_norm}) {
      auto buffer = std::make_shared<std::vector<float>>(norm->element_count(), 1.0f);
      for (int k = 0; k < 4; ++k) (*buffer)[k * 13] = 8.0f;
      norm->data = {reinterpret_cast<const uint8_t*>(buffer->data()),
                    buffer->size() * sizeof(float)};
      m->weights.storage.push_back(buffer);
    }
  }
  return m;
}

TEST(GptqModelAwqTest, FoldOnlyScalesTheFloatModelWithoutChangingItsFunction) {
  const Config c = TinyTestConfig(2);
  const std::vector<TokenId> tokens = RandomTokens(c, 5);
  std::unique_ptr<Model> float_model = OutlierModel(c);
  const std::vector<float> reference = Logits(*float_model, tokens);
  std::unique_ptr<Model> folded = OutlierModel(c);
  Result<GptqModelReport> report =
      RunAwq(*folded, tokens, AwqSearchOptions::DefaultAlphaGrid(), /*fold_only=*/true);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->awq_scaled, 0);
  EXPECT_EQ(report->tensors, 0);  // nothing rounded
  bool norm_changed = false;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& a = folded->weights.layers[l];
    const LayerWeights& b = float_model->weights.layers[l];
    for (const TensorView* v : {&a.attn_q, &a.attn_v, &a.attn_output, &a.ffn_up, &a.ffn_down}) {
      EXPECT_EQ(v->type, TensorType::kF32) << v->name;
    }
    for (int i = 0; i < c.d_model; ++i) {
      norm_changed |= a.attn_norm.f32()[i] != b.attn_norm.f32()[i];
      norm_changed |= a.ffn_norm.f32()[i] != b.ffn_norm.f32()[i];
    }
  }
  EXPECT_TRUE(norm_changed);
  // W·diag(s) read through x·diag(1/s) is the same function: the only differences are the F32
  // roundings of the scaled products (relative 2⁻²⁴ each, a few per path through two layers),
  // far below 1e-4 of the logits' scale.
  const std::vector<float> logits = Logits(*folded, tokens);
  float scale = 0;
  for (float v : reference) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < logits.size(); ++i) ASSERT_NEAR(logits[i], reference[i], 1e-4f * scale);
}

TEST(GptqModelAwqTest, FoldOnlyNeedsAwqWithoutGptq) {
  const Config c = TinyTestConfig(1);
  std::unique_ptr<Model> model = RandomF32Model(c, 3);
  GptqModelOptions options;
  options.fold_only = true;  // use_gptq defaults to true, awq to false
  const Result<GptqModelReport> r = GptqQuantizeModel(*model, PlanQ4_0(*model), RandomTokens(c, 1),
                                                      {.n_ctx = kCtx, .n_chunk = kChunks}, options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("needs --method awq"), std::string::npos);
}

TEST(GptqModelAwqTest, OutlierChannelsGetScaledAndTheQuantizedModelErrsLess) {
  const Config c = TinyTestConfig(2);
  auto make = [&] { return OutlierModel(c); };
  const std::vector<TokenId> tokens = RandomTokens(c, 5);
  std::unique_ptr<Model> float_model = make();
  const std::vector<float> reference = Logits(*float_model, tokens);

  std::unique_ptr<Model> rtn = make();
  ASSERT_TRUE(RunAwq(*rtn, tokens, {0.0}).ok());
  std::unique_ptr<Model> awq = make();
  Result<GptqModelReport> report = RunAwq(*awq, tokens, AwqSearchOptions::DefaultAlphaGrid());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->awq_scaled, 0);
  EXPECT_LT(report->awq_loss, report->awq_loss_rtn);
  const double rtn_error = SquaredError(Logits(*rtn, tokens), reference);
  const double awq_error = SquaredError(Logits(*awq, tokens), reference);
  std::printf("logit squared error: AWQ %.4g, RTN %.4g (%.3fx); search loss %.3fx\n", awq_error,
              rtn_error, awq_error / rtn_error, report->awq_loss / report->awq_loss_rtn);
  EXPECT_LT(awq_error, rtn_error);
}

}  // namespace
}  // namespace shrink
