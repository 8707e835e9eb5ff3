// Quantization-aware training writes exactly the grid it trained against: after a few training
// steps with fake quantization from the output's own plan, decoding the written GGUF gives the
// weights the model's last forward pass read, bit for bit, for a legacy mix (Q4_0), a k-quant mix
// (Q3_K_M, several types in one file), importance-weighted encoding, and exact frozen steps
// (--rounding exact), whose first forward pass reads exactly what `quantize --rounding exact`
// writes (WriteQuantizedGguf with RowEncoding::kExactScale, the quantize command's call).
#include "pipeline/quantized_training.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/tiny_model_test_util.h"
#include "quant/quantized_gguf.h"
#include "testing/test_paths.h"
#include "train/trainer.h"

namespace shrink {
namespace {

// Width 256 and FFN 512 so that k-quant blocks (256) fit the rows and the Q3_K_M mix keeps its
// per-role types instead of falling back.
Config KQuantConfig() {
  Config c = TinyTestConfig(2);
  c.d_model = 256;
  c.ffn_dim = 512;
  c.n_heads = 4;
  c.head_dim = 64;
  c.rope_dims = 64;
  c.SetUniformLayers();
  return c;
}

struct Case {
  std::string mix;
  Config config;
  bool importance = false;
  bool exact = false;
};

// Decodes every tensor of the GGUF at `path` and compares it bit for bit with what `model`'s
// forward pass reads; `types` are the expected tensor types.
void ExpectFileHoldsForwardWeights(const std::string& path, train::TrainableModel& model,
                                   const train::FakeQuantSpec& spec, const std::string& what) {
  auto gguf = GgufFile::Open(path);
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  ASSERT_EQ(gguf->tensors().size(), model.tensors().size());
  for (size_t i = 0; i < model.tensors().size(); ++i) {
    const GgufTensorInfo& t = gguf->tensors()[i];
    const train::ParamTensor& p = model.tensors()[i];
    ASSERT_EQ(t.name, p.name);
    EXPECT_EQ(t.traits->type, spec[i].type) << p.name;
    std::vector<float> decoded(static_cast<size_t>(p.count));
    t.traits->decode(t.data.data(), decoded.data(), p.count);
    const std::span<const float> used = model.ForwardWeights(i);
    EXPECT_EQ(std::memcmp(decoded.data(), used.data(), decoded.size() * sizeof(float)), 0)
        << what << ": " << p.name << " (" << t.traits->name << ") differs from the forward's grid";
  }
}

void TrainWriteAndCompare(const Case& c, const std::string& file) {
  auto source = RandomF32Model(c.config, 11);
  auto loaded = train::TrainableModel::FromModel(*source);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  train::TrainableModel& model = *loaded;
  const QuantMix& mix = **FindMix(c.mix);
  auto out = PlanTrainedOutput(model, mix);
  ASSERT_TRUE(out.ok()) << out.status().message();
  std::vector<std::vector<float>> importance;
  if (c.importance) {
    // Stand-in for AttachImatrix: random per-column weights on every matrix whose type has a
    // weighted encoder, kept alive here as AttachedImportance would be.
    std::mt19937 rng(12);
    std::uniform_real_distribution<float> dist(0.1f, 4.0f);
    importance.resize(out->plan.tensors.size());
    for (size_t i = 0; i < out->plan.tensors.size(); ++i) {
      TensorPlan& t = out->plan.tensors[i];
      if (t.source->shape.size() < 2 || Traits(t.type).encode_weighted == nullptr) continue;
      importance[i].resize(static_cast<size_t>(t.source->cols()));
      for (float& x : importance[i]) x = dist(rng);
      t.importance_use = ImportanceUse::kUsed;
      t.importance = importance[i];
    }
  }
  train::FakeQuantSpec spec = FakeQuantSpecFor(out->plan, model, c.exact);
  int quantized = 0, exact = 0;
  for (const auto& t : spec) {
    quantized += t.type != TensorType::kF32;
    exact += t.rounding == train::FakeQuantRounding::kExactFrozenSteps;
  }
  ASSERT_GT(quantized, 0);
  ASSERT_EQ(exact > 0, c.exact);
  ASSERT_TRUE(model.SetFakeQuant(spec).ok());
  if (c.exact) {
    // Step 0: what `quantize --rounding exact` writes for these masters (the same plan, the same
    // importance), decoded, is what the forward pass reads.
    const std::string path = (testing::ScratchDir() / ("step0_" + file)).string();
    QuantizeOptions q;
    q.threads = 2;
    q.encoding = RowEncoding::kExactScale;
    const Status written =
        WriteQuantizedGguf(path, QuantizedMetadata(source->metadata, mix), out->plan, q);
    ASSERT_TRUE(written.ok()) << written.message();
    ExpectFileHoldsForwardWeights(path, model, spec,
                                  c.mix + " step 0 vs quantize --rounding exact");
  }

  train::TrainOptions o;
  o.batch = 2;
  o.seq = 16;
  o.steps = 3;
  o.schedule.lr = 1e-2f;
  train::Trainer trainer(model, o);
  std::mt19937 rng(13);
  std::vector<int32_t> in(32), next(32);
  for (int s = 0; s < o.steps; ++s) {
    for (size_t i = 0; i < in.size(); ++i) {
      in[i] = static_cast<int32_t>(rng() % 128);
      next[i] = static_cast<int32_t>(rng() % 128);
    }
    ASSERT_TRUE(trainer.Step(in, next).ok());
  }
  // The last forward pass (a validation pass, say) after the last update.
  model.Forward(in.data(), 2, 16);
  const std::string path = (testing::ScratchDir() / file).string();
  const Status written = WriteTrainedGguf(path, source->metadata, mix, out->plan, 2, model);
  ASSERT_TRUE(written.ok()) << written.message();
  ExpectFileHoldsForwardWeights(path, model, spec, c.mix + " after training");
  if (c.exact) {
    // The steps were kept: every exact tensor's blocks still carry the steps of step 0.
    for (size_t i = 0; i < spec.size(); ++i) {
      if (spec[i].rounding != train::FakeQuantRounding::kExactFrozenSteps) continue;
      EXPECT_FALSE(model.FakeQuantBlocks(i).empty()) << model.tensors()[i].name;
    }
  }
}

TEST(QuantizedTrainingTest, Q4_0FileHoldsTheTrainedGrid) {
  TrainWriteAndCompare({.mix = "Q4_0", .config = TinyTestConfig()}, "qat_q4_0.gguf");
}

TEST(QuantizedTrainingTest, Q3_K_MFileHoldsTheTrainedGrid) {
  TrainWriteAndCompare({.mix = "Q3_K_M", .config = KQuantConfig()}, "qat_q3_k_m.gguf");
}

TEST(QuantizedTrainingTest, ImportanceWeightedQ4_K_MFileHoldsTheTrainedGrid) {
  TrainWriteAndCompare({.mix = "Q4_K_M", .config = KQuantConfig(), .importance = true},
                       "qat_q4_k_m_imatrix.gguf");
}

TEST(QuantizedTrainingTest, ExactStepsQ4_0StartAtQuantizeExactAndFileHoldsTheTrainedGrid) {
  TrainWriteAndCompare({.mix = "Q4_0", .config = TinyTestConfig(), .exact = true},
                       "qat_q4_0_exact.gguf");
}

TEST(QuantizedTrainingTest, ExactStepsWithImportanceQ4_0) {
  TrainWriteAndCompare(
      {.mix = "Q4_0", .config = TinyTestConfig(), .importance = true, .exact = true},
      "qat_q4_0_exact_imatrix.gguf");
}

// Without --quantize the plan still decides the output; the spec it implies for an F32 output
// fake-quantizes nothing.
TEST(QuantizedTrainingTest, F32OutputMeansNoFakeQuantization) {
  auto source = RandomF32Model(TinyTestConfig(), 1);
  auto model = train::TrainableModel::FromModel(*source);
  ASSERT_TRUE(model.ok());
  auto out = PlanTrainedOutput(*model, **FindMix("F32"));
  ASSERT_TRUE(out.ok());
  for (const auto& t : FakeQuantSpecFor(out->plan, *model)) EXPECT_EQ(t.type, TensorType::kF32);
}

}  // namespace
}  // namespace shrink
