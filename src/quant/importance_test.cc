// quantize --imatrix's plumbing: an imatrix checked against a plan (AttachImatrix), the weights
// reaching a weighted encoder row by row (ConvertRows, with a test-only encoder), --explain's
// words, llama-quantize's metadata keys.
#include "quant/importance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "model/architecture.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "model/tiny_model_test_util.h"
#include "quant/convert_rows.h"
#include "quant/plan_report.h"
#include "quant/quantized_gguf.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

// ---- ConvertRows with a test-only weighted encoder ----------------------------------------------

// Q8_0 bytes, but a column whose importance is 0 is encoded as 0: which columns come out zero
// shows exactly which weights the encoder was given for each row.
void MaskedQ8_0(const float* in, uint8_t* blocks, int64_t n, const float* importance) {
  std::vector<float> masked(in, in + n);
  for (int64_t i = 0; i < n; ++i) {
    if (importance[i] == 0.0f) masked[i] = 0.0f;
  }
  Traits(TensorType::kQ8_0).encode(masked.data(), blocks, n);
}

TypeTraits MaskedType() {
  TypeTraits t = Traits(TensorType::kQ8_0);
  t.name = "MASKED_Q8_0";
  t.encode_weighted = MaskedQ8_0;
  return t;
}

TEST(ConvertRowsImportanceTest, EveryRowGetsTheColumnWeights) {
  constexpr int64_t kCols = 96, kRows = 37;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(kRows * kCols);
  for (float& v : w) v = normal(rng);
  std::vector<float> importance(kCols);
  for (int64_t j = 0; j < kCols; ++j) importance[j] = j % 3 == 0 ? 0.0f : 0.5f + j;
  const TypeTraits masked = MaskedType();
  const std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(w.data()), w.size() * 4);
  const int64_t row_bytes = *RowBytes(TensorType::kQ8_0, kCols);

  std::vector<uint8_t> one(kRows * row_bytes), three(kRows * row_bytes), plain(kRows * row_bytes);
  ASSERT_TRUE(ConvertRows(Traits(TensorType::kF32), in, masked, one, kCols, 1, 0, importance).ok());
  ASSERT_TRUE(
      ConvertRows(Traits(TensorType::kF32), in, masked, three, kCols, 3, 0, importance).ok());
  ASSERT_TRUE(ConvertRows(Traits(TensorType::kF32), in, masked, plain, kCols, 3).ok());
  EXPECT_EQ(one, three);  // the thread count does not matter

  std::vector<float> decoded(kCols), unweighted(kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    masked.decode(one.data() + r * row_bytes, decoded.data(), kCols);
    masked.decode(plain.data() + r * row_bytes, unweighted.data(), kCols);
    for (int64_t j = 0; j < kCols; ++j) {
      if (j % 3 == 0) {
        EXPECT_EQ(decoded[j], 0.0f) << "row " << r << " column " << j;
      }
      // Without importance the plain encoder ran: nothing masked, each value within half a step
      // (|w| / 127 per block of at most |w|max 5) of the input.
      EXPECT_NEAR(unweighted[j], w[r * kCols + j], 0.03f) << "row " << r << " column " << j;
    }
  }
}

// ---- AttachImatrix ------------------------------------------------------------------------------

// An imatrix with an entry for every linear inside the blocks, as llama-imatrix writes one: sums
// 1, 2, 3, ... and 10 rows.
ImatrixData ImatrixFor(const Weights& weights) {
  ImatrixData d;
  d.datasets = {"calibration.txt"};
  d.chunk_count = 2;
  d.chunk_size = 5;
  weights.ForEachTensor([&](const TensorView& t) {
    if (t.layer < 0 || t.shape.size() < 2) return;
    ImatrixTensor& e = d.tensors[t.name];
    e.columns = t.cols();
    for (int64_t j = 0; j < t.cols(); ++j) e.sums.push_back(float(j + 1));
    e.counts = {10};
  });
  return d;
}

struct Planned {
  std::unique_ptr<Model> model;
  QuantPlan plan;
};

Planned Plan(std::string_view mix, int32_t layers = 2) {
  Planned p;
  p.model = RandomF32Model(TinyTestConfig(layers), /*seed=*/1, /*norm_jitter=*/0.0f);
  p.plan = PlanQuantization(p.model->config, TensorsInTableOrder(p.model->weights), **FindMix(mix),
                            false, /*with_imatrix=*/true);
  return p;
}

std::string AttachError(ImatrixData d, QuantPlan& plan) {
  Result<AttachedImportance> a = AttachImatrix(d, "im.gguf", plan);
  return a.ok() ? "(no error)" : a.status().message();
}

TEST(AttachImatrixTest, MarksEveryReencodedMatrix) {
  Planned p = Plan("Q4_0");
  const ImatrixData d = ImatrixFor(p.model->weights);
  Result<AttachedImportance> a = AttachImatrix(d, "im.gguf", p.plan);
  ASSERT_TRUE(a.ok()) << a.status().message();
  int block_matrices = 0;
  for (const TensorPlan& t : p.plan.tensors) {
    SCOPED_TRACE(t.source->name);
    if (t.source->shape.size() == 1) {
      EXPECT_EQ(t.importance_use, ImportanceUse::kNone);  // a norm: copied
    } else if (t.source->layer < 0) {
      EXPECT_EQ(t.importance_use, ImportanceUse::kNoEntry);  // token_embd (tied output)
    } else {
      ++block_matrices;
      const bool weighted = Traits(t.type).encode_weighted != nullptr;
      EXPECT_EQ(t.importance_use, weighted ? ImportanceUse::kUsed : ImportanceUse::kTypeUnweighted);
      if (weighted) {
        // The mean of x²: sums 1, 2, 3, ... over 10 rows.
        ASSERT_EQ(t.importance.size(), static_cast<size_t>(t.source->cols()));
        EXPECT_EQ(t.importance[0], 0.1f);
        EXPECT_EQ(t.importance[5], 0.6f);
      } else {
        EXPECT_TRUE(t.importance.empty());
      }
    }
  }
  EXPECT_EQ(block_matrices, 14);
  EXPECT_EQ(a->used + a->type_unweighted, 14);
  EXPECT_EQ(a->no_entry, 1);
  EXPECT_EQ(a->unused_entries, 0);

  const std::string table = FormatPlanTable(p.plan, /*explain=*/true);
  EXPECT_NE(table.find("imatrix has no entry for it: not weighted"), std::string::npos) << table;
  EXPECT_NE(table.find(a->used > 0 ? "imatrix: importance-weighted"
                                   : "imatrix does not apply to Q4_0 (no importance-weighted "
                                     "encoder)"),
            std::string::npos)
      << table;
  EXPECT_NE(FormatPlanSummary(p.plan, 1).find(
                fmt::format("the imatrix weighs {} of the 15 re-encoded matrices", a->used)),
            std::string::npos);
}

TEST(AttachImatrixTest, TypesWithoutWeightedEncoderAreSaidSo) {
  Planned p = Plan("Q8_0");  // ggml has no importance-aware Q8_0 either
  Result<AttachedImportance> a = AttachImatrix(ImatrixFor(p.model->weights), "im.gguf", p.plan);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->used, 0);
  EXPECT_EQ(a->type_unweighted, 14);
  EXPECT_NE(FormatPlanTable(p.plan, true).find("imatrix does not apply to Q8_0"),
            std::string::npos);
}

TEST(AttachImatrixTest, ImatrixOfAnotherModelIsOneClearError) {
  Planned p = Plan("Q4_0");
  ImatrixData d = ImatrixFor(p.model->weights);
  d.tensors.erase("blk.1.ffn_up.weight");
  EXPECT_EQ(AttachError(d, p.plan),
            "im.gguf: no entry for 'blk.1.ffn_up.weight', a linear input the plan re-encodes to "
            "Q4_0 (the imatrix has 13 entries: is it from another model?)");

  d = ImatrixFor(p.model->weights);
  d.tensors.at("blk.0.attn_k.weight") = {32, std::vector<float>(32, 1.0f), {10}};
  EXPECT_EQ(AttachError(d, p.plan),
            "im.gguf: entry 'blk.0.attn_k.weight' has 32 columns, but the model's tensor has rows "
            "of 64 (shape 64 x 32): is the imatrix from another model?");

  d = ImatrixFor(p.model->weights);
  d.tensors.at("blk.0.attn_q.weight") = {64, std::vector<float>(128, 1.0f), {10, 10}};
  EXPECT_EQ(AttachError(d, p.plan),
            "im.gguf: entry 'blk.0.attn_q.weight' has 2 matrices of 64 columns, but the model's "
            "tensor has 1 (shape 64 x 64): is the imatrix from another model?");

  // An entry the model does not need must still fit where it names a tensor.
  d = ImatrixFor(p.model->weights);
  d.tensors["token_embd.weight"] = {16, std::vector<float>(16, 1.0f), {10}};
  EXPECT_NE(AttachError(d, p.plan).find("entry 'token_embd.weight' has 16 columns"),
            std::string::npos);

  // Entries for tensors the model lacks (more layers) are counted, not an error.
  d = ImatrixFor(p.model->weights);
  d.tensors["blk.7.attn_q.weight"] = {64, std::vector<float>(64, 1.0f), {10}};
  Result<AttachedImportance> a = AttachImatrix(d, "im.gguf", p.plan);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->unused_entries, 1);
}

TEST(AttachImatrixTest, CopiedTensorsNeedNoEntry) {
  Planned p = Plan("F32");  // an F32 model to F32: every tensor is copied
  Result<AttachedImportance> a = AttachImatrix(ImatrixData{}, "im.gguf", p.plan);
  ASSERT_TRUE(a.ok()) << a.status().message();
  for (const TensorPlan& t : p.plan.tensors) EXPECT_EQ(t.importance_use, ImportanceUse::kNone);
}

// llama-quantize's rules that depend on the imatrix (the fixtures in mix_test.cc check them on
// real models): with 8 layers, n/8 = 1.
TEST(AttachImatrixTest, RulesDependOnTheImatrix) {
  auto type_of = [](const QuantPlan& plan, std::string_view name) {
    for (const TensorPlan& t : plan.tensors) {
      if (t.source->name == name) return Traits(t.type).name;
    }
    return std::string_view("absent");
  };
  const auto model = RandomF32Model(TinyTestConfig(8), /*seed=*/1, /*norm_jitter=*/0.0f);
  const auto order = TensorsInTableOrder(model->weights);
  for (const auto& [mix, without, with] :
       {std::tuple{"Q4_0", "Q4_0", "Q4_1"}, std::tuple{"Q5_0", "Q5_0", "Q5_1"},
        std::tuple{"IQ4_NL", "Q5_1", "IQ4_NL"}}) {
    SCOPED_TRACE(mix);
    const QuantMix& m = **FindMix(mix);
    // (IQ4_NL without imatrix: Q5_K, whose block does not fit ffn_down's row of 96: Q5_1.)
    EXPECT_EQ(
        type_of(PlanQuantization(model->config, order, m, false, false), "blk.0.ffn_down.weight"),
        without);
    EXPECT_EQ(
        type_of(PlanQuantization(model->config, order, m, false, true), "blk.0.ffn_down.weight"),
        with);
    EXPECT_EQ(
        type_of(PlanQuantization(model->config, order, m, false, true), "blk.1.ffn_down.weight"),
        Traits(m.base).name);
  }
}

TEST(ImatrixMetadataTest, KeysAsLlamaQuantizeWritesThem) {
  ImatrixData d;
  d.datasets = {std::string(200, 'd'), "second"};
  d.chunk_count = 4;
  d.tensors["a"] = {1, {1}, {1}};
  const auto kv = ImatrixMetadata(d, "im.dat");
  ASSERT_EQ(kv.size(), 4u);
  EXPECT_EQ(kv[0].first, "quantize.imatrix.file");
  EXPECT_EQ(kv[0].second.AsString(), "im.dat");
  EXPECT_EQ(kv[1].first, "quantize.imatrix.dataset");
  EXPECT_EQ(kv[1].second.AsString(), std::string(127, 'd'));  // llama-quantize's char[128]
  EXPECT_EQ(kv[2].first, "quantize.imatrix.entries_count");
  EXPECT_EQ(kv[2].second.type, GgufValueType::kUint32);
  EXPECT_EQ(kv[2].second.AsUint(), 1u);
  EXPECT_EQ(kv[3].first, "quantize.imatrix.chunks_count");
  EXPECT_EQ(kv[3].second.AsUint(), 4u);
  d.chunk_count = 0;
  d.datasets.clear();
  EXPECT_EQ(ImatrixMetadata(d, "im.dat").size(), 2u);
}

// With a real weighted encoder in the formats table (the k-quant, legacy and IQ4 encoders), a
// written tensor's rows are encode_weighted with its imatrix entry's means.
TEST(WriteWithImatrixTest, RowsAreEncodedWithTheirWeights) {
  const TypeTraits* weighted = nullptr;
  for (const TypeTraits& t : AllTypes()) {
    if (t.encode_weighted != nullptr && t.block_elements == 32) weighted = &t;
  }
  if (weighted == nullptr) {
    GTEST_SKIP() << "skipped: no block-32 type in the formats table has encode_weighted yet "
                    "(ConvertRowsImportanceTest covers the plumbing with a test-only encoder)";
  }
  const QuantMix* mix = *FindMix(weighted->name);
  Planned p = Plan(mix->name);
  const ImatrixData d = ImatrixFor(p.model->weights);
  Result<AttachedImportance> a = AttachImatrix(d, "im.gguf", p.plan);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_GT(a->used, 0);
  const std::string path = (testing::ScratchDir() / "w.gguf").string();
  ASSERT_TRUE(WriteQuantizedGguf(path, QuantizedMetadata(p.model->metadata, *mix), p.plan,
                                 {.threads = 2, .on_tensor_done = {}})
                  .ok());
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok());
  for (const TensorPlan& t : p.plan.tensors) {
    if (t.importance_use != ImportanceUse::kUsed) continue;
    SCOPED_TRACE(t.source->name);
    const TypeTraits& to = Traits(t.type);
    const int64_t cols = t.source->cols(), row_bytes = *RowBytes(t.type, cols);
    const std::vector<float> means = MeanSquares(d.format, d.tensors.at(t.source->name));
    std::vector<uint8_t> want(row_bytes);
    const std::span<const uint8_t> got = file->FindTensor(t.source->name)->data;
    for (int64_t r = 0; r < t.source->rows(); ++r) {
      to.encode_weighted(t.source->f32().data() + r * cols, want.data(), cols, means.data());
      ASSERT_TRUE(std::equal(want.begin(), want.end(), got.begin() + r * row_bytes)) << "row " << r;
    }
  }
}

}  // namespace
}  // namespace shrink
