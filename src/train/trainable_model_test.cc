// The whole model's backward pass against central differences, for random tiny configs of both
// architectures (train/grad_check_test_util.h explains the tolerance), and its forward pass
// against the inference engine on stories260K.
#include "train/trainable_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "model/prepared_model.h"
#include "model/transformer.h"
#include "testing/test_paths.h"
#include "train/grad_check_test_util.h"

namespace shrink::train {
namespace {

using testing::ExpectGradient;
using testing::LossValue;

// A llama-shaped config whose layers differ in heads and FFN width (as a pruned model's do).
Config TinyLlama() {
  Config c;
  c.n_layers = 2;
  c.d_model = 16;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.ffn_dim = 24;
  c.vocab_size = 29;
  c.context_length = 64;
  c.rope_dims = 4;
  c.rope_theta = 100.0f;
  c.SetUniformLayers();
  c.layers[1].n_heads = 2;
  c.layers[1].n_kv_heads = 1;
  c.layers[1].ffn_dim = 12;
  c.tied_embeddings = true;
  return c;
}

// Every Gemma-3 feature: Q/K norms, post-norms, GELU, half-split RoPE over part of the head,
// scaled embeddings, a logit soft-cap, a sliding-window layer, an untied output.
Config TinyGemma() {
  Config c = TinyLlama();
  c.architecture = "gemma3";
  c.tied_embeddings = false;
  c.rope_ordering = RopeOrdering::kHalves;
  c.rope_dims = 2;
  c.activation = Activation::kGeluTanh;
  c.embedding_scale = 4.0f;
  c.qk_norm = true;
  c.post_norms = true;
  c.final_logit_softcap = 3.0f;
  c.attention_scale = 0.3f;
  c.layers[0].sliding_window = 2;
  c.layers[0].rope_theta = 50.0f;
  return c;
}

void Randomize(TrainableModel& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.4f);
  for (const ParamTensor& t : m.tensors()) {
    float* p = m.params().data() + t.offset;
    // Norm weights near 1 as trained models have them; matrices small and random.
    for (int64_t i = 0; i < t.count; ++i) p[i] = t.matrix() ? dist(rng) : 1.0f + 0.5f * dist(rng);
  }
}

void CheckModelGradient(const Config& config) {
  TrainableModel m(config);
  Randomize(m, 7);
  const int64_t B = 2, T = 5, N = B * T;
  std::mt19937 rng(3);
  std::vector<int32_t> inputs(N), targets(N);
  for (int32_t& t : inputs) t = static_cast<int32_t>(rng() % config.vocab_size);
  for (int32_t& t : targets) t = static_cast<int32_t>(rng() % config.vocab_size);
  m.Reserve(B, T);
  m.ZeroGrad();
  m.Forward(inputs.data(), B, T);
  m.CrossEntropy(targets.data(), 1.0f);
  m.Backward();
  const std::vector<float> analytic(m.grads().begin(), m.grads().end());
  auto loss = [&] {
    m.Forward(inputs.data(), B, T);
    const double total = m.CrossEntropy(targets.data(), 1.0f);
    return LossValue{total, total};
  };
  // The longest F32 reduction behind the loss: the vocabulary-wide projection or an FFN row.
  const int64_t K = std::max<int64_t>(config.d_model, config.ffn_dim) * config.n_layers;
  for (const ParamTensor& t : m.tensors()) {
    std::span<float> x = m.params().subspan(t.offset, t.count);
    ExpectGradient(t.name, x, std::span<const float>(analytic).subspan(t.offset, t.count), loss, K,
                   1e-2, 12);
  }
  (void)N;
}

TEST(TrainableModelTest, LlamaGradientMatchesNumerical) { CheckModelGradient(TinyLlama()); }
TEST(TrainableModelTest, GemmaGradientMatchesNumerical) { CheckModelGradient(TinyGemma()); }

TEST(TrainableModelTest, ParametersFollowTheTensorTable) {
  TrainableModel m(TinyLlama());
  int64_t expected = 0;
  for (const ParamTensor& t : m.tensors()) {
    EXPECT_EQ(t.offset, expected) << t.name;
    expected += t.count;
  }
  EXPECT_EQ(static_cast<int64_t>(m.params().size()), expected);
  // Tied embeddings: no output tensor; layer 1 is narrower than layer 0.
  EXPECT_EQ(m.Param(m.params(), TensorRole::kOutput, -1), nullptr);
  EXPECT_EQ(m.tensors()[1].name, "blk.0.attn_norm.weight");
}

TEST(TrainableModelTest, ForwardMatchesInferenceOnStories260K) {
  const auto dir = shrink::testing::SharedPath("models/stories260K");
  SHRINK_SKIP_IF_MISSING(dir / "stories260K.bin");
  auto loaded = LoadModel((dir / "stories260K.bin").string(),
                          {.tokenizer_path = (dir / "tok512.bin").string()});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Model& model = **loaded;
  auto trainable = TrainableModel::FromModel(model);
  ASSERT_TRUE(trainable.ok()) << trainable.status().message();
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 395, 283, 306, 356, 11, 14, 269};
  const int64_t T = static_cast<int64_t>(tokens.size()), V = model.config.vocab_size;
  trainable->Reserve(1, T);
  trainable->Forward(tokens.data(), 1, T);
  PreparedModel prepared(model);
  InferenceSession session(prepared, 64);
  std::vector<float> logits(T * V);
  ASSERT_TRUE(session.Evaluate(tokens, logits).ok());
  // Both F32 throughout; they differ in summation order (BLAS blocking vs the kernels) and RoPE
  // angle rounding: ~1e-6 relative per op over 5 layers of logits of size ~10.
  for (int64_t i = 0; i < T * V; ++i) {
    EXPECT_NEAR(trainable->logits()[i], logits[i], 2e-4 * (1.0 + std::fabs(logits[i]))) << i;
  }
}

}  // namespace
}  // namespace shrink::train
