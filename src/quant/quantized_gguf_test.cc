#include "quant/quantized_gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>

#include "io/gguf.h"
#include "model/architecture.h"
#include "model/config_metadata.h"
#include "model/loaders.h"
#include "model/tiny_model_test_util.h"
#include "quant/convert_rows.h"
#include "quant/plan_report.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(QuantizedMetadataTest, ReplacesInPlaceOrAppends) {
  GgufMetadata source = {{"general.architecture", GgufValue::String("llama")},
                         {"general.file_type", GgufValue::I32(3)},
                         {"llama.block_count", GgufValue::U32(2)}};
  const GgufMetadata out = QuantizedMetadata(source, **FindMix("Q8_0"));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[1].first, "general.file_type");  // where it stood, now u32 as llama.cpp writes it
  EXPECT_EQ(out[1].second.type, GgufValueType::kUint32);
  EXPECT_EQ(out[1].second.AsUint(), 7u);  // LLAMA_FTYPE_MOSTLY_Q8_0
  EXPECT_EQ(out[3].first, "general.quantization_version");
  EXPECT_EQ(out[3].second.AsUint(), 2u);
}

TEST(ConfigMetadataTest, ReadGgufConfigGivesTheConfigBack) {
  Config c = TinyTestConfig();
  c.layers[1].ffn_dim = 64;  // per-layer widths become an array
  c.layers[1].n_kv_heads = 4;
  c.final_logit_softcap = 30.0f;
  auto model = RandomF32Model(c, 1);
  const QuantPlan plan = PlanQuantization(c, TensorsInTableOrder(model->weights), **FindMix("F32"));
  const std::string path = (testing::ScratchDir() / "config.gguf").string();
  ASSERT_TRUE(WriteQuantizedGguf(path, model->metadata, plan, {}).ok());
  auto back = LoadGgufTransformer(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  const Config& r = (*back)->config;
  EXPECT_EQ(r.Summary(), c.Summary());
  ASSERT_EQ(r.layers.size(), c.layers.size());
  for (size_t l = 0; l < c.layers.size(); ++l) {
    EXPECT_EQ(r.layers[l].n_heads, c.layers[l].n_heads);
    EXPECT_EQ(r.layers[l].n_kv_heads, c.layers[l].n_kv_heads);
    EXPECT_EQ(r.layers[l].ffn_dim, c.layers[l].ffn_dim);
    EXPECT_EQ(r.layers[l].rope_theta, c.layers[l].rope_theta);
  }
  EXPECT_EQ(r.final_logit_softcap, c.final_logit_softcap);
}

TEST(ConfigMetadataTest, RefusesWhatNoKeyExpressesYet) {
  Config c = TinyTestConfig();
  c.layers[0].sliding_window = 16;
  auto m = ConfigGgufMetadata(c);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("sliding-window"), std::string::npos);
}

// Writes `model` under `mix` with `threads` threads into `dir`; returns the file's path.
std::string Write(const Model& model, std::string_view mix, int threads,
                  const std::filesystem::path& dir, const std::string& name) {
  const QuantMix& m = **FindMix(mix);
  const QuantPlan plan = PlanQuantization(model.config, TensorsInTableOrder(model.weights), m);
  EXPECT_TRUE(CheckEncodable(plan).ok());
  const std::string path = (dir / name).string();
  const GgufMetadata metadata = QuantizedMetadata(model.metadata, m);
  const Status s =
      WriteQuantizedGguf(path, metadata, plan, {.threads = threads, .on_tensor_done = {}});
  EXPECT_TRUE(s.ok()) << s.message();
  auto size = QuantizedFileSize(metadata, plan);
  EXPECT_TRUE(size.ok());
  EXPECT_EQ(*size, std::filesystem::file_size(path)) << "--dry-run's size differs from the file's";
  return path;
}

TEST(WriteQuantizedGgufTest, EachTensorIsTheEncoderAppliedToItsRows) {
  const auto model = RandomF32Model(TinyTestConfig(), 2);
  const std::string path = Write(*model, "Q4_0", 1, testing::ScratchDir(), "q4_0.gguf");
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->Find("general.file_type")->AsUint(), 2u);
  const std::vector<const TensorView*> order = TensorsInTableOrder(model->weights);
  ASSERT_EQ(file->tensors().size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const GgufTensorInfo& t = file->tensors()[i];
    const TensorView& src = *order[i];
    EXPECT_EQ(t.name, src.name);
    // token_embd is the tied output matrix: Q6_K, which falls back to Q8_0 (row 64); norms F32.
    const TensorType want = src.shape.size() == 1                ? TensorType::kF32
                            : src.role == TensorRole::kTokenEmbd ? TensorType::kQ8_0
                                                                 : TensorType::kQ4_0;
    EXPECT_EQ(t.traits->type, want) << t.name;
    std::vector<uint8_t> expected(t.data.size());
    Traits(want).encode(reinterpret_cast<const float*>(src.data.data()), expected.data(),
                        src.element_count());
    EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), expected.begin())) << t.name;
  }
}

TEST(WriteQuantizedGgufTest, ThreadCountDoesNotChangeTheBytes) {
  const auto model = RandomF32Model(TinyTestConfig(), 3);
  const std::filesystem::path dir = testing::ScratchDir();
  for (std::string_view mix : {"Q4_1", "Q5_0", "Q8_0", "BF16"}) {
    const std::string one = Write(*model, mix, 1, dir, "one.gguf");
    const std::string three = Write(*model, mix, 3, dir, "three.gguf");
    EXPECT_EQ(ReadAll(one), ReadAll(three)) << mix;
  }
}

TEST(WriteQuantizedGgufTest, NonFiniteWeightIsNamedAndNothingIsWritten) {
  auto model = RandomF32Model(TinyTestConfig(), 4);
  const TensorView& up = model->weights.layers[1].ffn_up;
  const_cast<float*>(reinterpret_cast<const float*>(up.data.data()))[2 * 64 + 5] = NAN;
  const QuantMix& mix = **FindMix("Q8_0");
  const QuantPlan plan = PlanQuantization(model->config, TensorsInTableOrder(model->weights), mix);
  const std::string path = (testing::ScratchDir() / "nan.gguf").string();
  const Status s =
      WriteQuantizedGguf(path, model->metadata, plan, {.threads = 2, .on_tensor_done = {}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tensor 'blk.1.ffn_up.weight': row 2, column 5: the decoded value is "
                             "nan; Q8_0 needs finite weights"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(PlanTest, KQuantPlansAreEncodableAndTypesWithoutEncodersAreRefusedByName) {
  const auto model = RandomF32Model(TinyTestConfig(), 5);
  Config c = model->config;
  const QuantPlan plan =
      PlanQuantization(c, TensorsInTableOrder(model->weights), **FindMix("Q4_K_M"));
  // Rows of 64 and 96 fit no 256-block: every matrix falls back to a block-32 type.
  EXPECT_TRUE(CheckEncodable(plan).ok());
  for (const TensorPlan& t : plan.tensors) {
    // token_embd (the tied output matrix) gets Q8_0 from rule 1 directly, without a fallback.
    const bool fell_back = t.source->shape.size() == 2 && t.source->role != TensorRole::kTokenEmbd;
    EXPECT_EQ(t.fell_back, fell_back) << t.source->name;
  }
  // Width 256: ffn_gate (row 256) stays Q4_K and token_embd gets Q6_K; both encode.
  c.d_model = 256;
  c.n_heads = 16;
  c.n_kv_heads = 8;
  c.SetUniformLayers();
  Weights w = Weights::Skeleton(c);
  QuantPlan k = PlanQuantization(c, TensorsInTableOrder(w), **FindMix("Q4_K_M"));
  EXPECT_TRUE(CheckEncodable(k).ok());
  bool has_q4_k = false;
  for (const TensorPlan& t : k.tensors) has_q4_k |= t.type == TensorType::kQ4_K;
  EXPECT_TRUE(has_q4_k);
  // A type no mix chooses and shrink cannot encode (Q8_K, a dot-product intermediate) is refused
  // by tensor name before any work.
  k.tensors[0].type = TensorType::kQ8_K;
  const Status s = CheckEncodable(k);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tensor '" + k.tensors[0].source->name +
                             "': shrink has no Q8_K encoder yet"),
            std::string::npos)
      << s.message();
}

TEST(PlanTest, ExplainNamesTheRuleAndTheFallback) {
  const auto model = RandomF32Model(TinyTestConfig(), 6);
  const QuantPlan plan =
      PlanQuantization(model->config, TensorsInTableOrder(model->weights), **FindMix("Q4_K_M"));
  // use_more_bits of 2 layers selects layer 1 only (1 >= 7·2/8). Table order: token_embd, then 9
  // tensors per layer (attn_norm, q, k, v, ...).
  const TensorPlan& v1 = plan.tensors[13];
  ASSERT_EQ(v1.source->name, "blk.1.attn_v.weight");
  EXPECT_EQ(ExplainTensor(plan, v1),
            "rule 3 of Q4_K_M (llama.cpp *_K_M: attn_v on use_more_bits layers): attn_v, "
            "use_more_bits layers (first n/8, from 7n/8 on, every 3rd from n/8+2) (1 of 2): "
            "Q6_K; fallback: row 64 is not a multiple of Q6_K's 256-element block: Q8_0");
  EXPECT_EQ(ExplainTensor(plan, plan.tensors[4]),
            "Q4_K_M base type: Q4_K; fallback: row 64 is not a multiple of Q4_K's 256-element "
            "block: Q5_0");
  EXPECT_EQ(ExplainTensor(plan, plan.tensors[1]), "1-D tensor (norm): F32 (as stored: copied)");
}

// SmolLM2-135M-Instruct's Q4_1 and Q8_0 blocks, decoded and encoded again, give the same bytes:
// the encoders find each block's min and max (Q4_1) or largest magnitude (Q8_0) on the grid
// points themselves, recompute the f16 scale exactly and round every value back to its quant
// (docs/numerics.md, "Re-encoding a decoded block").
TEST(RequantizeTest, SmolLM2BlocksReencodeToTheSameBytes) {
  const auto path = testing::CachedModelPath("smollm2-135m-instruct-q4_1.gguf");
  SHRINK_SKIP_IF_MODEL_MISSING(path);
  auto model = LoadGgufTransformer(path.string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  int64_t blocks = 0, differing = 0;
  (*model)->weights.ForEachTensor([&](const TensorView& t) {
    const TypeTraits& traits = Traits(t.type);
    if (t.type != TensorType::kQ4_1 && t.type != TensorType::kQ8_0) return;
    std::vector<uint8_t> again(t.data.size());
    ASSERT_TRUE(ConvertRows(traits, t.data, traits, again, t.cols(), 2).ok());
    for (size_t b = 0; b < again.size(); b += traits.block_bytes) {
      ++blocks;
      differing += !std::equal(again.begin() + b, again.begin() + b + traits.block_bytes,
                               t.data.begin() + b);
    }
  });
  EXPECT_EQ(blocks, 4202496);  // (134515008 parameters − 61 norms of 576) / 32
  EXPECT_EQ(differing, 0);
}

}  // namespace
}  // namespace shrink
