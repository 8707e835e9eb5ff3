// Gemma-3-270M (Q4_K_M as shipped) against an independent F64 numpy forward and llama.cpp.
// Skipped when the model file is absent (scripts/fetch-models gemma3-270m fetches it).
//
// Prompt ids from llama.cpp (the version vendored in llama-cpp-python 0.3.36):
//   llama-tokenize -m gemma-3-270m-q4_k_m.gguf -p "The history of the Roman Empire began when" --ids
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "model/forward_oracle_test_util.h"
#include "model/loaders.h"
#include "model/model.h"
#include "model/transformer.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

std::filesystem::path Gemma3Path() { return testing::CachedModelPath("gemma-3-270m-q4_k_m.gguf"); }

TEST(Gemma3Test, ConfigFollowsMetadataAndLlamaCppDefaults) {
  const auto path = Gemma3Path();
  SHRINK_SKIP_IF_MODEL_MISSING(path);
  auto model = LoadModel(path.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const Config& c = (*model)->config;
  EXPECT_EQ(c.architecture, "gemma3");
  EXPECT_EQ(c.n_layers, 18);
  EXPECT_EQ(c.d_model, 640);
  EXPECT_EQ(c.head_dim, 256);  // gemma3.attention.key_length, not 640 / 4
  EXPECT_EQ(c.q_dim(0), 1024);
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.post_norms);
  EXPECT_EQ(c.activation, Activation::kGeluTanh);
  EXPECT_EQ(c.rope_ordering, RopeOrdering::kHalves);
  EXPECT_FLOAT_EQ(c.embedding_scale, std::sqrt(640.0f));
  // No sliding_window_pattern key: llama.cpp's default of 6, layer l global when l % 6 == 5; the
  // file gives the window (512) and the global base (1e6); local layers use 1e4.
  for (int l = 0; l < c.n_layers; ++l) {
    const bool global = l % 6 == 5;
    EXPECT_EQ(c.layers[l].sliding_window, global ? 0 : 512) << l;
    EXPECT_EQ(c.layers[l].rope_theta, global ? 1e6f : 1e4f) << l;
  }
  // No tokenizer.chat_template in the file: the architecture's default family.
  EXPECT_EQ((*model)->chat_template, "gemma");
  // The file's metadata is kept, in order, for writers.
  ASSERT_FALSE((*model)->metadata.empty());
  EXPECT_EQ((*model)->metadata.size(), 33u);  // gguf-py: kv_count 33
  EXPECT_EQ((*model)->metadata.front().first, "general.architecture");
}

TEST(Gemma3Test, ForwardMatchesF64Oracle) {
  // tests/oracles/gemma3_forward_oracle.py: an independent numpy F64 forward over gguf-py's
  // dequantized weights, written from the Gemma 3 description. Our F32 forward differs by rounding:
  // F32 dots of up to 2048 terms (typical relative error ~√n·u ≈ 3e-6), RMSNorms that rescale each
  // block's output (which also rescales its error), 18 layers, and a final projection over 640
  // terms; logits are ~20 in size, so 2e-3 absolute (1e-4 relative) leaves a wide margin over the
  // observed error (printed below).
  const auto path = Gemma3Path();
  SHRINK_SKIP_IF_MODEL_MISSING(path);
  testing::ExpectForwardMatchesOracle(path.string(), "tests/oracles/fixtures/gemma3_forward.txt",
                                      2e-3);
}

TEST(Gemma3Test, IntegerKernelsStayWithinTheActivationRoundingBound) {
  // As SmolLm2Test's twin: the default 8-bit activation products against the F64 oracle.
  const auto path = Gemma3Path();
  SHRINK_SKIP_IF_MODEL_MISSING(path);
  testing::ExpectForwardMatchesOracle(path.string(), "tests/oracles/fixtures/gemma3_forward.txt",
                                      testing::kIntegerLogitTolerance,
                                      testing::OracleProducts::kDefault);
}

TEST(Gemma3Test, SlidingWindowMasksOldKeysOnLocalLayersOnly) {
  // With the window narrowed to 4 on local layers, a long prompt's last logits must change (local
  // layers lose keys) while the first 4 positions cannot (every key is inside any window of 4).
  const auto path = Gemma3Path();
  SHRINK_SKIP_IF_MODEL_MISSING(path);
  auto model = LoadGgufTransformer(path.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::vector<TokenId> tokens = {2, 818, 4083, 529, 506, 10995, 23436, 6074, 1056};
  const int V = (*model)->config.vocab_size;
  const int T = static_cast<int>(tokens.size());
  std::vector<float> wide(T * V), narrow(T * V);
  {
    const PreparedModel prepared(**model);
    InferenceSession s(prepared, T);
    ASSERT_TRUE(s.Evaluate(tokens, wide).ok());
  }
  for (LayerConfig& lc : (*model)->config.layers) {
    if (lc.sliding_window > 0) lc.sliding_window = 4;
  }
  const PreparedModel prepared(**model);
  InferenceSession s(prepared, T);
  ASSERT_TRUE(s.Evaluate(tokens, narrow).ok());
  for (int i = 0; i < 4 * V; ++i) ASSERT_EQ(wide[i], narrow[i]) << i;
  double diff = 0.0;
  for (int i = (T - 1) * V; i < T * V; ++i)
    diff = std::max<double>(diff, std::fabs(wide[i] - narrow[i]));
  EXPECT_GT(diff, 0.1);
}

}  // namespace
}  // namespace shrink
