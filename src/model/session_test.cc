// The model core's seams: the tensor table, walking several Weights together, observers, and
// sessions sharing one PreparedModel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kernels/kernel_threads.h"
#include "kernels/matmul.h"
#include "model/architecture.h"
#include "model/loaders.h"
#include "model/stories_test_util.h"
#include "model/transformer.h"
#include "testing/heap_counter.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

Config TinyConfig(std::string_view arch_name) {
  Config c;
  c.n_layers = 2;
  c.d_model = 8;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.head_dim = 4;
  c.ffn_dim = 12;
  c.vocab_size = 16;
  c.context_length = 32;
  c.rope_dims = 4;
  c.tied_embeddings = true;
  ApplyArchitecture(**FindArchitecture(arch_name), c);
  c.SetUniformLayers();
  return c;
}

TEST(TensorTableTest, SkeletonListsWhatTheArchitectureHas) {
  std::set<std::string> llama, gemma;
  Weights::Skeleton(TinyConfig("llama")).ForEachTensor([&](const TensorView& v) {
    llama.insert(v.name);
  });
  Weights::Skeleton(TinyConfig("gemma3")).ForEachTensor([&](const TensorView& v) {
    gemma.insert(v.name);
  });
  EXPECT_EQ(llama.size(), 1 + 2 * 9 + 1u);  // tied: no output.weight
  EXPECT_EQ(gemma.size(), 1 + 2 * 13 + 1u);
  for (const char* name : {"blk.1.attn_q_norm.weight", "blk.1.attn_k_norm.weight",
                           "blk.1.post_attention_norm.weight", "blk.1.post_ffw_norm.weight"}) {
    EXPECT_TRUE(gemma.count(name)) << name;
    EXPECT_FALSE(llama.count(name)) << name;
  }
  Config untied = TinyConfig("llama");
  untied.tied_embeddings = false;
  const Weights w = Weights::Skeleton(untied);
  EXPECT_EQ(w.output.name, "output.weight");
  EXPECT_EQ(w.output.shape, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(w.layers[1].attn_q_norm.name, "");
  EXPECT_EQ(Weights::Skeleton(TinyConfig("gemma3")).layers[1].attn_q_norm.shape,
            (std::vector<int64_t>{4}));
}

TEST(TensorTableTest, RoleNamesRoundTripThroughTheTable) {
  for (const TensorSpec& spec : TensorTable()) {
    EXPECT_EQ(&SpecOf(spec.role), &spec);
    EXPECT_EQ(TensorRoleName(spec.role), spec.name);
  }
  EXPECT_EQ(TensorName(TensorRole::kFfnPostNorm, 3), "blk.3.post_ffw_norm.weight");
  EXPECT_EQ(TensorName(TensorRole::kTokenEmbd, -1), "token_embd.weight");
}

TEST(TensorTableTest, ForEachTensorTogetherWalksWeightsInStep) {
  // Weights, gradients and two Adam moments: the same tensor of each, every time.
  const Config c = TinyConfig("gemma3");
  Weights w = Weights::Skeleton(c), g = Weights::Skeleton(c), m = Weights::Skeleton(c),
          v = Weights::Skeleton(c);
  int visits = 0;
  Weights::ForEachTensorTogether(
      [&](TensorView& a, TensorView& b, TensorView& cc, TensorView& d) {
        EXPECT_EQ(a.name, b.name);
        EXPECT_EQ(a.name, cc.name);
        EXPECT_EQ(a.name, d.name);
        EXPECT_EQ(a.shape, d.shape);
        ++visits;
      },
      w, g, m, v);
  EXPECT_EQ(visits, 1 + 2 * 13 + 1);
}

// Records what an observer is shown.
class RecordingObserver : public ForwardObserver {
 public:
  void OnLinearInput(int layer, TensorRole role, std::span<const float> x, int64_t T) override {
    linear_inputs.push_back({layer, role, static_cast<int64_t>(x.size()), T});
    if (layer == 0 && role == TensorRole::kAttnQ) q_input.assign(x.begin(), x.end());
  }
  void OnResidual(int layer, ResidualPoint point, std::span<const float> x, int64_t T) override {
    residuals.push_back({layer, point == ResidualPoint::kBlockInput ? 0 : 1});
    if (layer == 0 && point == ResidualPoint::kBlockOutput) block0_out.assign(x.begin(), x.end());
  }
  struct Linear {
    int layer;
    TensorRole role;
    int64_t size, T;
  };
  std::vector<Linear> linear_inputs;
  std::vector<std::pair<int, int>> residuals;
  std::vector<float> q_input, block0_out;
};

TEST(ObserverTest, SeesEveryLinearInputAndResidualWithoutChangingLogits) {
  SHRINK_LOAD_STORIES260K_OR_SKIP(model);
  const Config& c = model->config;
  const PreparedModel prepared(*model);
  const std::vector<TokenId> tokens = {1, 403, 407, 261, 378, 430, 11};
  const int64_t T = static_cast<int64_t>(tokens.size());
  std::vector<float> plain(T * c.vocab_size), observed(T * c.vocab_size);
  InferenceSession a(prepared, 16), b(prepared, 16);
  ASSERT_TRUE(a.Evaluate(tokens, plain).ok());
  RecordingObserver rec;
  b.SetObserver(&rec);
  ASSERT_TRUE(b.Evaluate(tokens, observed).ok());
  EXPECT_EQ(plain, observed);  // bit for bit

  // 7 linears per layer (q, k, v share one input but are reported each) + the output projection.
  ASSERT_EQ(rec.linear_inputs.size(), 7u * c.n_layers + 1);
  const std::vector<TensorRole> order = {
      TensorRole::kAttnQ,   TensorRole::kAttnK, TensorRole::kAttnV,  TensorRole::kAttnOutput,
      TensorRole::kFfnGate, TensorRole::kFfnUp, TensorRole::kFfnDown};
  for (int l = 0; l < c.n_layers; ++l) {
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& seen = rec.linear_inputs[l * order.size() + i];
      EXPECT_EQ(seen.layer, l);
      EXPECT_EQ(seen.role, order[i]);
      EXPECT_EQ(seen.T, T);
      const int64_t cols = order[i] == TensorRole::kFfnDown      ? c.ffn_dim
                           : order[i] == TensorRole::kAttnOutput ? c.q_dim(l)
                                                                 : c.d_model;
      EXPECT_EQ(seen.size, T * cols);
    }
  }
  EXPECT_EQ(rec.linear_inputs.back().layer, -1);
  EXPECT_EQ(rec.linear_inputs.back().role, TensorRole::kOutput);
  ASSERT_EQ(rec.residuals.size(), 2u * c.n_layers);
  EXPECT_EQ(rec.residuals[0], std::make_pair(0, 0));
  EXPECT_EQ(rec.residuals[1], std::make_pair(0, 1));
  // The Q input is the session's named activation attn_in of layer 0; the last layer's attn_in is
  // what the session keeps after the call.
  EXPECT_EQ(rec.q_input.size(), static_cast<size_t>(T * c.d_model));
  EXPECT_EQ(rec.block0_out.size(), static_cast<size_t>(T * c.d_model));
  EXPECT_EQ(b.activations().attn_in.size(), static_cast<size_t>(T * c.d_model));
  EXPECT_EQ(b.activations().att_probs.size(), static_cast<size_t>(c.n_heads * T * T));
}

// An F16 KV cache: half the cache's bytes, and logits close to the F32 cache's, through a prompt
// and then single-token steps (the generation path of the attention products). docs/numerics.md
// ("F16 KV cache"): per element the rounding is ~20 times smaller than the integer kernels' 8-bit
// activations, and each attention output moves by at most u16·(1 + 2A)·max|v| (A the largest
// absolute score), which a tiny model with few, large scores amplifies most: measured here 0.98 %
// of 1 + |logit| (SmolLM2: 0.035 %). The bound: half the integer kernels' end-to-end tolerance
// (kIntegerLogitTolerance = 5 %).
TEST(SessionTest, F16KvCacheHalvesTheCacheAndStaysWithinItsBound) {
  SHRINK_LOAD_STORIES260K_OR_SKIP(model);
  const Config& c = model->config;
  const int64_t saved_blas_min_rows = BlasMinRows();
  SetBlasMinRows(1);  // exact F32 products: the cache is the only difference
  const PreparedModel prepared(*model);
  constexpr double kTolerance = 0.05 / 2;
  InferenceSession f32(prepared, 64), f16(prepared, 64, TensorType::kF16);
  std::vector<TokenId> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back(static_cast<TokenId>(1 + (i * 37) % 500));
  std::vector<float> a(prompt.size() * c.vocab_size), b(a.size());
  ASSERT_TRUE(f32.Evaluate(prompt, a).ok());
  ASSERT_TRUE(f16.Evaluate(prompt, b).ok());
  double worst = 0.0;
  auto compare = [&](const std::vector<float>& x, const std::vector<float>& y) {
    for (size_t i = 0; i < x.size(); ++i) {
      const double rel = std::fabs(double{x[i]} - y[i]) / (1 + std::fabs(double{x[i]}));
      worst = std::max(worst, rel);
      ASSERT_LE(rel, kTolerance) << "logit " << i;
    }
  };
  compare(a, b);
  a.resize(c.vocab_size);
  b.resize(c.vocab_size);
  for (int step = 0; step < 16; ++step) {
    const TokenId next = static_cast<TokenId>(7 + step * 29);
    ASSERT_TRUE(f32.Evaluate(std::span(&next, 1), a).ok());
    ASSERT_TRUE(f16.Evaluate(std::span(&next, 1), b).ok());
    compare(a, b);
  }
  EXPECT_GT(worst, 0.0);  // the cache did round something
  std::cout << "F16 KV cache: max |Δlogit| / (1 + |logit|) = " << worst << "\n";
  SetBlasMinRows(saved_blas_min_rows);
  const SessionMemory m32 = InferenceSession::EstimateMemory(c, 64, 1);
  const SessionMemory m16 = InferenceSession::EstimateMemory(c, 64, 1, TensorType::kF16);
  // Half the cache plus one batch row of staged keys.
  EXPECT_EQ(m16.kv_cache, m32.kv_cache / 2 + 4.0 * c.kv_dim(0));
}

// The estimate callers check against physical memory before a session exists is what a session
// then allocates: exactly its buffers, plus a few hundred bytes of bookkeeping (the vector of
// n_layers KvCache headers). The kernels' per-thread scratch (packed panels, activation blocks:
// thread_local, grown once per process and shared by every session) is not a session's, so a
// throwaway session of the largest shape runs first; without it the test passed or failed by
// which tests had run before it in the same process.
TEST(SessionMemoryTest, EstimateIsWhatTheSessionAllocates) {
  SHRINK_LOAD_STORIES260K_OR_SKIP(model);
  const Config& c = model->config;
  const PreparedModel prepared(*model);
  constexpr int64_t kBookkeeping = 1024;
  // The kernels keep per-thread scratch (thread_local, process-wide, outside the estimate). On one
  // kernel thread the warm-up below grows all of it on this thread; with a pool, a worker that
  // got no task during the warm-up could grow its scratch inside the measurement.
  SetKernelThreads(1);
  struct RestoreThreads {
    ~RestoreThreads() { SetKernelThreads(static_cast<int>(std::thread::hardware_concurrency())); }
  } restore;
  {
    InferenceSession warm(prepared, 64);
    const std::vector<TokenId> tokens(64, 403);
    std::vector<float> logits(size_t(64) * c.vocab_size);
    ASSERT_TRUE(warm.Evaluate(tokens, logits).ok());
  }
  // One batch of 64 rows over 64 positions (a perplexity chunk), and two batches of 16 rows in a
  // cache of 32 (the second sees all 32 positions).
  for (const auto& [max_context, batch] : {std::pair<int32_t, int32_t>{64, 64}, {32, 16}}) {
    const std::vector<TokenId> tokens(batch, 403);
    std::vector<float> logits(size_t(batch) * c.vocab_size);
    const int64_t before = testing::HeapBytesInUse();
    int64_t used = 0;
    {
      InferenceSession session(prepared, max_context);
      for (int32_t pos = 0; pos < max_context; pos += batch) {
        ASSERT_TRUE(session.Evaluate(tokens, logits).ok());
      }
      used = testing::HeapBytesInUse() - before;
    }
    const SessionMemory m = InferenceSession::EstimateMemory(c, max_context, batch);
    EXPECT_EQ(m.kv_cache, 2.0 * max_context * c.n_layers * c.kv_dim(0) * 4);
    EXPECT_EQ(m.attention_probs, 4.0 * c.n_heads * batch * max_context);
    EXPECT_GE(used, m.total()) << "max_context " << max_context << ", batch " << batch;
    EXPECT_LE(used, m.total() + kBookkeeping)
        << "max_context " << max_context << ", batch " << batch;
  }
}

TEST(SessionMemoryTest, SecondSessionCostsOnlyItsCacheAndActivations) {
  // SmolLM2's matrices are Q4_1/Q8_0, read in place: preparing copies no weights (it used to decode
  // them to F32, ~540 MB). A second session on the same PreparedModel must add only its KV cache
  // and activations.
  const auto path = testing::CachedModelPath("smollm2-135m-instruct-q4_1.gguf");
  SHRINK_SKIP_IF_MODEL_MISSING(path);
  auto model = LoadGgufTransformer(path.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const Config& c = (*model)->config;
  const int32_t ctx = 128;
  const std::vector<TokenId> tokens(ctx, 504);
  std::vector<float> logits(c.vocab_size);

  const int64_t before_prepare = testing::HeapBytesInUse();
  const PreparedModel prepared(**model);
  const int64_t prepared_bytes = testing::HeapBytesInUse() - before_prepare;
  EXPECT_GE(prepared_bytes, prepared.owned_bytes());
  EXPECT_EQ(prepared.owned_bytes(), 0);  // no decoded copies
  EXPECT_LT(prepared_bytes, 1'000'000);  // the matrices' descriptions only
  {
    // One-time allocations of the first product (the kernel thread pool, its reusable scratch)
    // belong to neither session.
    InferenceSession warm_up(prepared, ctx);
    ASSERT_TRUE(warm_up.Evaluate(tokens, logits, ctx - 1).ok());
  }

  const int64_t before_first = testing::HeapBytesInUse();
  InferenceSession first(prepared, ctx);
  ASSERT_TRUE(first.Evaluate(tokens, logits, ctx - 1).ok());
  const int64_t first_bytes = testing::HeapBytesInUse() - before_first;
  InferenceSession second(prepared, ctx);
  ASSERT_TRUE(second.Evaluate(tokens, logits, ctx - 1).ok());
  const int64_t second_bytes = testing::HeapBytesInUse() - before_first - first_bytes;

  int64_t kv_bytes = 0;
  for (int l = 0; l < c.n_layers; ++l) kv_bytes += 2 * int64_t{ctx} * c.kv_dim(l) * 4;
  std::cout << "prepared model: " << prepared_bytes << " B; first session: " << first_bytes
            << " B; second session: " << second_bytes << " B; KV cache: " << kv_bytes << " B\n";
  // Each session holds its KV cache plus one layer's activations for a batch of 128 (a few MB),
  // far below the 92 MB of weights, and the two sessions equal to each other.
  EXPECT_GE(first_bytes, kv_bytes);
  EXPECT_LT(first_bytes, 20'000'000);
  // Equal to within 1%.
  EXPECT_NEAR(static_cast<double>(second_bytes), static_cast<double>(first_bytes),
              0.01 * static_cast<double>(first_bytes));
}

}  // namespace
}  // namespace shrink
