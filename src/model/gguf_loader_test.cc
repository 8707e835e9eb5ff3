// GGUF llama loader: config keys and tensor checks on tiny files written with io's GGUF writer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/gguf_writer.h"
#include "model/loaders.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

using ::testing::HasSubstr;

// A 2-layer llama: d_model 8, 2 heads / 1 kv head of 4, ffn 12, vocab 16, all F32 zeros.
struct TinyLlama {
  std::vector<std::pair<std::string, GgufValue>> metadata = {
      {"general.architecture", GgufValue::String("llama")},
      {"llama.block_count", GgufValue::U32(2)},
      {"llama.context_length", GgufValue::U32(64)},
      {"llama.embedding_length", GgufValue::U32(8)},
      {"llama.feed_forward_length", GgufValue::U32(12)},
      {"llama.attention.head_count", GgufValue::U32(2)},
      {"llama.attention.head_count_kv", GgufValue::U32(1)},
      {"llama.attention.layer_norm_rms_epsilon", GgufValue::F32(1e-5f)},
      {"llama.rope.freq_base", GgufValue::F32(100000.0f)},
      {"llama.vocab_size", GgufValue::U32(16)},
  };
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  std::vector<float> zeros = std::vector<float>(16 * 12, 0.0f);

  TinyLlama() {
    shapes.push_back({"token_embd.weight", {8, 16}});
    for (int l = 0; l < 2; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      shapes.push_back({b + "attn_norm.weight", {8}});
      shapes.push_back({b + "attn_q.weight", {8, 8}});
      shapes.push_back({b + "attn_k.weight", {8, 4}});
      shapes.push_back({b + "attn_v.weight", {8, 4}});
      shapes.push_back({b + "attn_output.weight", {8, 8}});
      shapes.push_back({b + "ffn_norm.weight", {8}});
      shapes.push_back({b + "ffn_gate.weight", {8, 12}});
      shapes.push_back({b + "ffn_up.weight", {8, 12}});
      shapes.push_back({b + "ffn_down.weight", {12, 8}});
    }
    shapes.push_back({"output_norm.weight", {8}});
  }

  std::string Write(const std::string& name) const {
    std::vector<GgufTensorToWrite> tensors;
    for (const auto& [tname, shape] : shapes) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      tensors.push_back({tname,
                         shape,
                         /*F32*/ 0,
                         {reinterpret_cast<const uint8_t*>(zeros.data()), n * sizeof(float)}});
    }
    const std::string path = (testing::ScratchDir() / name).string();
    const Status s = WriteGguf(path, metadata, tensors);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return path;
  }
};

TEST(GgufLoaderTest, LoadsTinyLlama) {
  auto model = LoadGgufTransformer(TinyLlama().Write("tiny.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const Config& c = (*model)->config;
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.rope_dims, 4);
  EXPECT_EQ(c.n_kv_heads, 1);
  EXPECT_EQ(c.vocab_size, 16);
  EXPECT_FLOAT_EQ(c.rope_theta, 100000.0f);
  EXPECT_TRUE(c.tied_embeddings);  // no output.weight
  int count = 0;
  (*model)->weights.ForEachTensor([&](const TensorView& v) {
    EXPECT_FALSE(v.data.empty()) << v.name;
    ++count;
  });
  EXPECT_EQ(count, 1 + 2 * 9 + 1);
}

TEST(GgufLoaderTest, MissingRequiredKeyNamesFileAndKey) {
  for (const char* key :
       {"llama.block_count", "llama.embedding_length", "llama.attention.head_count",
        "llama.attention.layer_norm_rms_epsilon", "llama.feed_forward_length"}) {
    TinyLlama t;
    std::erase_if(t.metadata, [&](const auto& kv) { return kv.first == key; });
    const std::string path = t.Write("missing.gguf");
    auto model = LoadGgufTransformer(path);
    ASSERT_FALSE(model.ok()) << key;
    EXPECT_THAT(model.status().message(), HasSubstr("missing.gguf"));
    EXPECT_THAT(model.status().message(), HasSubstr(std::string("missing required key '") + key));
  }
}

TEST(GgufLoaderTest, MissingTensorNamesIt) {
  TinyLlama t;
  std::erase_if(t.shapes, [](const auto& s) { return s.first == "blk.1.ffn_up.weight"; });
  auto model = LoadGgufTransformer(t.Write("no_tensor.gguf"));
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(),
              HasSubstr("no_tensor.gguf: missing tensor blk.1.ffn_up.weight"));
}

TEST(GgufLoaderTest, MisShapedTensorNamesItAndBothShapes) {
  TinyLlama t;
  for (auto& [name, shape] : t.shapes) {
    if (name == "blk.0.attn_k.weight") shape = {8, 8};
  }
  auto model = LoadGgufTransformer(t.Write("bad_shape.gguf"));
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(),
              HasSubstr("tensor blk.0.attn_k.weight has shape [8, 8], expected [8, 4]"));
}

TEST(GgufLoaderTest, PerLayerArraysGiveLayerDims) {
  TinyLlama t;
  GgufArray ffn{GgufValueType::kUint32, {GgufValue::U32(12), GgufValue::U32(6)}};
  for (auto& [key, value] : t.metadata) {
    if (key == "llama.feed_forward_length") value = GgufValue::Array(ffn);
  }
  for (auto& [name, shape] : t.shapes) {
    if (name == "blk.1.ffn_gate.weight" || name == "blk.1.ffn_up.weight") shape = {8, 6};
    if (name == "blk.1.ffn_down.weight") shape = {6, 8};
  }
  auto model = LoadGgufTransformer(t.Write("per_layer.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->config.layers[0].ffn_dim, 12);
  EXPECT_EQ((*model)->config.layers[1].ffn_dim, 6);
}

TEST(GgufLoaderTest, UnknownArchitectureListsTheSupportedOnes) {
  TinyLlama t;
  t.metadata[0].second = GgufValue::String("mamba");
  auto model = LoadGgufTransformer(t.Write("mamba.gguf"));
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("mamba.gguf: architecture 'mamba' is not "
                                                  "supported (supported: llama, gemma3, deci)"));
  EXPECT_EQ(model.status().message().find('\n'), std::string::npos);  // one line
}

TEST(GgufLoaderTest, OutOfRangeDimensionIsAnErrorNotATruncation) {
  // 2^32 + 9 heads must not load as 9 (a cast to int32 would).
  TinyLlama t;
  for (auto& [key, value] : t.metadata) {
    if (key == "llama.attention.head_count") value = GgufValue::U64((uint64_t{1} << 32) + 9);
  }
  auto model = LoadGgufTransformer(t.Write("huge_heads.gguf"));
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(),
              HasSubstr("key 'llama.attention.head_count' is 4294967305, expected 0..16777216"));
}

TEST(GgufLoaderTest, PerLayerU64BeyondInt64IsAnErrorNotAnAbort) {
  // A u64 per-layer element above int64's range: compared as unsigned, named in the error.
  TinyLlama t;
  GgufArray ffn{GgufValueType::kUint64, {GgufValue::U64(12), GgufValue::U64(~uint64_t{0})}};
  for (auto& [key, value] : t.metadata) {
    if (key == "llama.feed_forward_length") value = GgufValue::Array(ffn);
  }
  auto model = LoadGgufTransformer(t.Write("u64_per_layer.gguf"));
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(),
              HasSubstr("key 'llama.feed_forward_length' element 1 is 18446744073709551615, "
                        "expected 0..16777216"));
}

TEST(GgufLoaderTest, KeepsMetadataInFileOrder) {
  TinyLlama t;
  auto model = LoadGgufTransformer(t.Write("meta.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ((*model)->metadata.size(), t.metadata.size());
  for (size_t i = 0; i < t.metadata.size(); ++i) {
    EXPECT_EQ((*model)->metadata[i].first, t.metadata[i].first);
  }
  EXPECT_EQ((*model)->chat_template, "");  // llama: ChatML unless the file says otherwise
}

TEST(GgufLoaderTest, SlidingWindowPatternArraySelectsLayers) {
  // A gemma3-shaped file is not needed to test the keys: llama has no default pattern, so an
  // explicit per-layer bool array is required, and the window applies to the marked layers only.
  TinyLlama t;
  t.metadata.push_back({"llama.attention.sliding_window", GgufValue::U32(3)});
  t.metadata.push_back(
      {"llama.attention.sliding_window_pattern",
       GgufValue::Array({GgufValueType::kBool, {GgufValue::Bool(true), GgufValue::Bool(false)}})});
  t.metadata.push_back({"llama.rope.freq_base_swa", GgufValue::F32(500.0f)});
  auto model = LoadGgufTransformer(t.Write("swa.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const Config& c = (*model)->config;
  EXPECT_EQ(c.layers[0].sliding_window, 3);
  EXPECT_FLOAT_EQ(c.layers[0].rope_theta, 500.0f);
  EXPECT_EQ(c.layers[1].sliding_window, 0);
  EXPECT_FLOAT_EQ(c.layers[1].rope_theta, 100000.0f);

  TinyLlama no_pattern;
  no_pattern.metadata.push_back({"llama.attention.sliding_window", GgufValue::U32(3)});
  auto rejected = LoadGgufTransformer(no_pattern.Write("swa_no_pattern.gguf"));
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(rejected.status().message(), HasSubstr("no sliding-window layer pattern"));
}

}  // namespace
}  // namespace shrink
