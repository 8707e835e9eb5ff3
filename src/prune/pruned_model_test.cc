// Pruned models written, loaded back and run: nothing removed gives the dense model's logits bit for
// bit; dropped layers give exactly the logits of the model built from the kept layers alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "io/gguf.h"
#include "model/architecture.h"
#include "model/config_metadata.h"
#include "model/loaders.h"
#include "model/prepared_model.h"
#include "model/tiny_model_test_util.h"
#include "model/transformer.h"
#include "prune/depth.h"
#include "prune/pruned_gguf.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

// A tiny llama: 3 layers, layer 1 with a narrower FFN (a per-layer array in metadata).
Config TinyConfig() {
  Config c = TinyTestConfig(3);
  c.layers[1].ffn_dim = 64;
  return c;
}

// Matrices N(0, 0.1²), norms 1 + N(0, 0.1²).
std::unique_ptr<Model> RandomModel(const Config& config, uint32_t seed) {
  return RandomF32Model(config, seed, 0.1f, 0.1f);
}

std::vector<const TensorView*> Views(const Weights& w) {
  std::vector<const TensorView*> out;
  w.ForEachTensor([&](const TensorView& t) { out.push_back(&t); });
  return out;
}

std::vector<float> Logits(const Model& model) {
  const PreparedModel prepared(model);
  InferenceSession session(prepared, 16);
  const std::vector<TokenId> tokens = {1, 17, 42, 99, 3, 127, 64, 5};
  std::vector<float> logits(tokens.size() * model.config.vocab_size);
  EXPECT_TRUE(session.Evaluate(tokens, logits).ok());
  return logits;
}

// Writes `views` (pruned as `target` says when `prune`) and loads the file back.
std::unique_ptr<Model> WriteAndLoad(const GgufMetadata& metadata, std::span<const TensorView> views,
                                    bool prune, const SparsityTarget& target,
                                    const std::string& name) {
  std::vector<PrunedTensor> tensors;
  for (const TensorView& v : views) {
    PrunedTensor t{&v, TensorType::kF32, {}};
    t.spec.prune = prune && v.layer >= 0 && SpecOf(v.role).linear;
    tensors.push_back(t);
  }
  EXPECT_TRUE(CheckPrunable(tensors, target).ok());
  const std::string path = (testing::ScratchDir() / name).string();
  const Status s = WritePrunedGguf(path, metadata, tensors, {.target = target});
  EXPECT_TRUE(s.ok()) << s.ToString();
  Result<std::unique_ptr<Model>> loaded = LoadGgufTransformer(path);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() ? std::move(loaded).value() : nullptr;
}

TEST(PrunedModelTest, SparsityZeroGivesTheDenseModelsLogits) {
  const auto model = RandomModel(TinyConfig(), 1);
  std::vector<TensorView> views;
  for (const TensorView* v : Views(model->weights)) views.push_back(*v);
  const auto pruned =
      WriteAndLoad(model->metadata, views, /*prune=*/true, {.sparsity = 0.0}, "sparsity0.gguf");
  ASSERT_NE(pruned, nullptr);
  // Nothing removed and F32 in and out: the same weights, so the same logits bit for bit.
  EXPECT_EQ(Logits(*pruned), Logits(*model));
}

TEST(PrunedModelTest, HalfSparsityZeroesHalfOfEveryRowAndStillRuns) {
  const auto model = RandomModel(TinyConfig(), 2);
  std::vector<TensorView> views;
  for (const TensorView* v : Views(model->weights)) views.push_back(*v);
  const auto pruned = WriteAndLoad(model->metadata, views, true, {.n = 2, .m = 4}, "24.gguf");
  ASSERT_NE(pruned, nullptr);
  const TensorView& q = pruned->weights.layers[2].attn_q;
  const std::span<const float> w = q.f32();
  for (int64_t r = 0; r < q.rows(); ++r) {
    for (int64_t g = 0; g < q.cols(); g += 4) {
      int zeros = 0;
      for (int j = 0; j < 4; ++j) zeros += w[r * q.cols() + g + j] == 0.0f;
      EXPECT_EQ(zeros, 2) << "row " << r << " group " << g;
    }
  }
  // Embeddings are not pruned.
  EXPECT_EQ(pruned->weights.token_embd.data.size(), model->weights.token_embd.data.size());
  EXPECT_TRUE(std::equal(pruned->weights.token_embd.data.begin(),
                         pruned->weights.token_embd.data.end(),
                         model->weights.token_embd.data.begin()));
  for (float v : Logits(*pruned)) EXPECT_TRUE(std::isfinite(v));
}

TEST(PrunedModelTest, NoLayerDroppedGivesTheDenseModelsLogits) {
  const auto model = RandomModel(TinyConfig(), 3);
  const std::vector<int> kept = *KeptLayers(3, {});
  const GgufMetadata metadata = *DepthPrunedMetadata(model->metadata, model->config, kept);
  const std::vector<TensorView> views = DepthPrunedViews(Views(model->weights), kept);
  const auto pruned = WriteAndLoad(metadata, views, false, {}, "depth0.gguf");
  ASSERT_NE(pruned, nullptr);
  EXPECT_EQ(Logits(*pruned), Logits(*model));
}

// Dropping layer 1 of 3 must give exactly the model made of layers 0 and 2 alone: its config (block
// count, the per-layer FFN widths 96, 96) and its logits.
TEST(PrunedModelTest, DroppedLayerGivesTheModelOfTheKeptLayers) {
  const auto model = RandomModel(TinyConfig(), 4);
  const std::vector<int> dropped = {1};
  const std::vector<int> kept = *KeptLayers(3, dropped);
  ASSERT_THAT(kept, ::testing::ElementsAre(0, 2));
  const GgufMetadata metadata = *DepthPrunedMetadata(model->metadata, model->config, kept);
  const std::vector<TensorView> views = DepthPrunedViews(Views(model->weights), kept);
  for (const TensorView& v : views)
    EXPECT_THAT(v.name, ::testing::Not(::testing::HasSubstr("blk.2.")));
  const auto pruned = WriteAndLoad(metadata, views, false, {}, "drop1.gguf");
  ASSERT_NE(pruned, nullptr);
  EXPECT_EQ(pruned->config.n_layers, 2);
  EXPECT_EQ(pruned->config.layers[0].ffn_dim, 96);
  EXPECT_EQ(pruned->config.layers[1].ffn_dim, 96);

  // The reference: a 2-layer model whose layers are views of the source's layers 0 and 2.
  Model reference;
  reference.config = DepthPrunedConfig(model->config, kept);
  reference.weights = model->weights;
  reference.weights.layers = {model->weights.layers[0], model->weights.layers[2]};
  EXPECT_EQ(Logits(*pruned), Logits(reference));
}

TEST(DepthMetadataTest, PerLayerArraysFollowTheirLayers) {
  Config c = TinyConfig();
  GgufMetadata source = *ConfigGgufMetadata(c);
  const GgufMetadata out = *DepthPrunedMetadata(source, c, std::vector<int>{1, 2});
  bool saw_ffn = false, saw_count = false;
  for (const auto& [key, value] : out) {
    if (key == "llama.block_count") {
      saw_count = true;
      EXPECT_EQ(value.type, GgufValueType::kUint32);
      EXPECT_EQ(value.AsUint(), 2u);
    }
    if (key == "llama.feed_forward_length") {
      saw_ffn = true;
      ASSERT_EQ(value.type, GgufValueType::kArray);
      ASSERT_EQ(value.AsArray().size(), 2u);
      EXPECT_EQ(value.AsArray().IntAt(0), 64);  // source layer 1
      EXPECT_EQ(value.AsArray().IntAt(1), 96);
    }
  }
  EXPECT_TRUE(saw_ffn && saw_count);
}

// Gemma-3 derives sliding-window layers from the index (global when l % 6 == 5). Of 7 layers
// (sliding: 0-4 and 6; global: 5), dropping layer 5 keeps six sliding layers; without an explicit
// pattern llama.cpp would make the new layer 5 (old 6) global. The output must say so per layer.
TEST(DepthMetadataTest, SlidingWindowPatternBecomesAnExplicitPerLayerArray) {
  Config c;
  c.architecture = "gemma3";
  c.n_layers = 7;
  c.layers.resize(7);
  for (int l = 0; l < 7; ++l) c.layers[l].sliding_window = l % 6 < 5 ? 512 : 0;
  const GgufMetadata source = {{"general.architecture", GgufValue::String("gemma3")},
                               {"gemma3.block_count", GgufValue::U32(7)},
                               {"gemma3.attention.sliding_window", GgufValue::U32(512)}};
  for (const auto& [drop, expected] :
       {std::pair{5, std::vector<bool>{true, true, true, true, true, true}},
        std::pair{0, std::vector<bool>{true, true, true, true, false, true}}}) {
    const std::vector<int> dropped = {drop};
    const GgufMetadata out = *DepthPrunedMetadata(source, c, *KeptLayers(7, dropped));
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[1].second.AsUint(), 6u);
    EXPECT_EQ(out[3].first, "gemma3.attention.sliding_window_pattern");
    const GgufArray& a = out[3].second.AsArray();
    ASSERT_EQ(a.element_type(), GgufValueType::kBool);
    ASSERT_EQ(a.size(), 6u);
    for (size_t i = 0; i < 6; ++i)
      EXPECT_EQ(a.BoolAt(i), expected[i]) << "drop " << drop << " " << i;
  }
}

TEST(DepthSelectionTest, LayerListsAndLeastInfluential) {
  EXPECT_THAT(*ParseLayerList("7,3,3", 30), ::testing::ElementsAre(3, 7));
  EXPECT_THAT(ParseLayerList("30", 30).status().ToString(),
              ::testing::HasSubstr("layer 30 does not exist; the model has 30 (0..29)"));
  EXPECT_FALSE(ParseLayerList("3,,7", 30).ok());
  EXPECT_FALSE(ParseLayerList("-1", 30).ok());
  EXPECT_FALSE(ParseLayerList("a", 30).ok());
  const std::vector<double> influence = {0.5, 0.1, 0.3, 0.1, 0.9};
  EXPECT_THAT(LeastInfluentialLayers(influence, 2), ::testing::ElementsAre(1, 3));
  EXPECT_THAT(LeastInfluentialLayers(influence, 3), ::testing::ElementsAre(1, 2, 3));
  const std::vector<int> all = {0, 1, 2};
  EXPECT_THAT(KeptLayers(3, all).status().ToString(), ::testing::HasSubstr("leaves none"));
}

}  // namespace
}  // namespace shrink
