// Quantization-aware training: fake quantization is decode(encode(W)) with the formats table's
// coders (whose bytes are tested against ggml in formats/format_vectors_test.cc), the model's
// forward pass and straight-through gradients are exactly those of a model holding the
// fake-quantized weights, the copies follow the masters once per optimizer step, and training
// against the Q4_0 grid lowers the quantized model's loss.
#include "train/fake_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "formats/exact_scale.h"
#include "formats/float_types.h"
#include "model/tiny_model_test_util.h"
#include "train/trainable_model.h"
#include "train/trainer.h"

namespace shrink::train {
namespace {

std::vector<float> RandomRow(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

bool SameBits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Each row is the type's encoder followed by its decoder, weighted when importance is given;
// every type with an encoder is covered.
TEST(FakeQuantizeRowsTest, IsDecodeOfEncodePerRow) {
  const int64_t rows = 5, cols = 512;  // a multiple of every block size (32 and 256)
  const std::vector<float> w = RandomRow(rows * cols, 1);
  std::vector<float> importance = RandomRow(cols, 2);
  for (float& x : importance) x = x * x;
  for (const TypeTraits& t : AllTypes()) {
    if (t.encode == nullptr || t.type == TensorType::kF32) continue;
    for (bool weighted : {false, true}) {
      if (weighted && t.encode_weighted == nullptr) continue;
      std::vector<float> got(w.size());
      FakeQuantizeRows(t, w.data(), got.data(), rows, cols,
                       weighted ? std::span<const float>(importance) : std::span<const float>());
      std::vector<uint8_t> blocks(static_cast<size_t>(cols / t.block_elements * t.block_bytes));
      std::vector<float> want(w.size());
      for (int64_t r = 0; r < rows; ++r) {
        if (weighted) {
          t.encode_weighted(w.data() + r * cols, blocks.data(), cols, importance.data());
        } else {
          t.encode(w.data() + r * cols, blocks.data(), cols);
        }
        t.decode(blocks.data(), want.data() + r * cols, cols);
      }
      EXPECT_TRUE(SameBits(got, want)) << t.name << (weighted ? " weighted" : "");
      EXPECT_FALSE(SameBits(got, w)) << t.name << ": nothing was rounded";
    }
  }
}

TEST(FakeQuantizeRowsTest, NonFiniteRowBecomesNaNOthersUntouched) {
  const int64_t cols = 64;
  std::vector<float> w = RandomRow(2 * cols, 3);
  w[cols + 7] = std::numeric_limits<float>::infinity();
  std::vector<float> got(w.size());
  FakeQuantizeRows(Traits(TensorType::kQ4_0), w.data(), got.data(), 2, cols);
  for (int64_t c = 0; c < cols; ++c) {
    EXPECT_TRUE(std::isfinite(got[c]));
    EXPECT_TRUE(std::isnan(got[cols + c]));
  }
}

// Exact frozen steps: the first encoding is the exact step search of quantize --rounding exact
// (formats/exact_scale.h EncodeRowExactScale, row by row); a refresh on unchanged masters gives
// the same bytes; after the masters move, the steps (each block's F16 d) stay and every element
// takes the level nearest its master under them (an independent brute force over the 16 codes).
TEST(ExactFrozenStepsTest, FirstEncodingIsQuantizeExactThenStepsStayAndCodesFollow) {
  const TypeTraits& q4 = Traits(TensorType::kQ4_0);
  const int64_t rows = 3, cols = 128, row_bytes = cols / 32 * q4.block_bytes;
  std::vector<float> w = RandomRow(rows * cols, 6);
  std::vector<float> importance = RandomRow(cols, 7);
  for (float& x : importance) x = x * x;
  std::vector<uint8_t> blocks(static_cast<size_t>(rows * row_bytes)), want(blocks.size());
  EncodeExactScaleRows(q4, w.data(), blocks.data(), rows, cols, importance);
  for (int64_t r = 0; r < rows; ++r) {
    EncodeRowExactScale(q4, w.data() + r * cols, want.data() + r * row_bytes, cols,
                        importance.data());
  }
  ASSERT_EQ(blocks, want);
  std::vector<float> got(w.size()), decoded(w.size());
  RoundRowsOntoGrid(q4, w.data(), blocks.data(), got.data(), rows, cols);
  EXPECT_EQ(blocks, want) << "re-rounding unchanged masters changed a code";
  q4.decode(want.data(), decoded.data(), rows * cols);
  EXPECT_TRUE(SameBits(got, decoded));

  // The other types with an exact step search (their level tables differ: Q5_0's 32 codes,
  // IQ4_NL's non-uniform values) give the same bytes as quantize --rounding exact too.
  for (TensorType type : {TensorType::kQ5_0, TensorType::kIQ4_NL}) {
    const TypeTraits& t = Traits(type);
    const int64_t bytes = cols / t.block_elements * t.block_bytes;
    std::vector<uint8_t> enc(static_cast<size_t>(rows * bytes)), ref(enc.size());
    EncodeExactScaleRows(t, w.data(), enc.data(), rows, cols, importance);
    for (int64_t r = 0; r < rows; ++r) {
      EncodeRowExactScale(t, w.data() + r * cols, ref.data() + r * bytes, cols, importance.data());
    }
    std::vector<float> y(w.size()), want_y(w.size());
    RoundRowsOntoGrid(t, w.data(), enc.data(), y.data(), rows, cols);
    EXPECT_EQ(enc, ref) << t.name;
    t.decode(ref.data(), want_y.data(), rows * cols);
    EXPECT_TRUE(SameBits(y, want_y)) << t.name;
  }

  // Move the masters by up to a few steps.
  std::vector<float> moved = w;
  const std::vector<float> noise = RandomRow(rows * cols, 8);
  for (size_t i = 0; i < moved.size(); ++i) moved[i] += 0.3f * noise[i];
  RoundRowsOntoGrid(q4, moved.data(), blocks.data(), got.data(), rows, cols);
  int changed = 0;
  for (int64_t b = 0; b < rows * cols / 32; ++b) {
    const uint8_t* block = blocks.data() + b * q4.block_bytes;
    // Q4_0's block: the F16 step first, then the codes; the step must not have moved.
    ASSERT_EQ(std::memcmp(block, want.data() + b * q4.block_bytes, 2), 0) << "block " << b;
    uint16_t bits;
    std::memcpy(&bits, block, 2);
    const float d = F16ToF32(bits);
    for (int e = 0; e < 32; ++e) {
      const float x = moved[b * 32 + e], y = got[b * 32 + e];
      // y decodes from code q as d·(q − 8): no other code's level is strictly nearer to x.
      for (int q = 0; q < 16; ++q) {
        EXPECT_LE(std::abs(x - y), std::abs(x - d * static_cast<float>(q - 8)))
            << "block " << b << " element " << e;
      }
      changed += y != decoded[b * 32 + e];
    }
  }
  EXPECT_GT(changed, 0) << "moving the masters changed no code";
}

TEST(ExactFrozenStepsTest, OnlyForTypesWithAnExactStepSearch) {
  TrainableModel m(TinyTestConfig());
  FakeQuantSpec spec(m.tensors().size());
  for (size_t i = 0; i < spec.size(); ++i) {
    if (!m.tensors()[i].matrix()) continue;
    spec[i].type = TensorType::kQ8_0;
    spec[i].rounding = FakeQuantRounding::kExactFrozenSteps;
  }
  EXPECT_NE(m.SetFakeQuant(spec).message().find("Q8_0 has no exact step search"),
            std::string::npos);
  for (FakeQuantTensor& t : spec) {
    if (t.type != TensorType::kF32) t.type = TensorType::kQ4_0;
  }
  EXPECT_TRUE(m.SetFakeQuant(spec).ok());
  EXPECT_FALSE(m.FakeQuantBlocks(0).empty());
}

// Q4_0 for every matrix, F32 for the vectors.
FakeQuantSpec AllMatrices(const TrainableModel& m, TensorType type) {
  FakeQuantSpec spec(m.tensors().size());
  for (size_t i = 0; i < spec.size(); ++i) {
    if (m.tensors()[i].matrix()) spec[i].type = type;
  }
  return spec;
}

TEST(SetFakeQuantTest, RejectsSpecsTheWriterCouldNotProduce) {
  TrainableModel m(TinyTestConfig());
  FakeQuantSpec spec = AllMatrices(m, TensorType::kQ4_0);
  spec.pop_back();
  EXPECT_NE(m.SetFakeQuant(spec).message().find("tensor types for a model of"), std::string::npos);
  spec = AllMatrices(m, TensorType::kQ4_0);
  spec[1].type = TensorType::kQ8_0;  // blk.0.attn_norm.weight
  EXPECT_NE(m.SetFakeQuant(spec).message().find("blk.0.attn_norm.weight: a vector"),
            std::string::npos);
  spec = AllMatrices(m, TensorType::kQ4_K);  // rows of 64 do not fill a 256 block
  EXPECT_NE(m.SetFakeQuant(spec).message().find("not a multiple of Q4_K's block of 256"),
            std::string::npos);
  spec = AllMatrices(m, TensorType::kQ4_0);
  spec[0].importance.assign(3, 1.0f);
  EXPECT_NE(m.SetFakeQuant(spec).message().find("3 importance weights for rows of 64"),
            std::string::npos);
  spec[0].importance.assign(64, 1.0f);
  spec[0].importance[5] = -1.0f;
  EXPECT_NE(m.SetFakeQuant(spec).message().find("importance weight 5 is -1"), std::string::npos);
  EXPECT_TRUE(m.fake_quant().empty()) << "a rejected spec must leave the model unchanged";
}

// A tiny model (width 64: Q4_0's blocks fit) with the test utility's random weights.
TrainableModel TinyTrainable(uint32_t seed) {
  auto model = RandomF32Model(TinyTestConfig(), seed);
  auto m = TrainableModel::FromModel(*model);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(*m);
}

// Model A trains with Q4_0 fake quantization (Q8_0 for the tied embedding/output matrix, with
// importance weights on one matrix, to cover every path); model B holds the fake-quantized
// weights as its masters and no fake quantization. Their forward passes and their gradients are
// the same computation on the same floats, so they must agree bit for bit: the forward is that of
// the model whose weights are decode(encode(W)), and the straight-through gradient w.r.t. each
// master is the gradient at the fake-quantized weights.
TEST(TrainableModelFakeQuantTest, ForwardAndGradientAreThoseOfTheQuantizedWeights) {
  TrainableModel a = TinyTrainable(4);
  FakeQuantSpec spec = AllMatrices(a, TensorType::kQ4_0);
  spec[0].type = TensorType::kQ8_0;
  spec[2].importance = RandomRow(64, 5);  // blk.0.attn_q.weight: rows of 64
  ASSERT_EQ(a.tensors()[2].name, "blk.0.attn_q.weight");
  for (float& x : spec[2].importance) x = x * x;
  ASSERT_TRUE(a.SetFakeQuant(spec).ok());

  TrainableModel b(a.config());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const std::span<const float> fw = a.ForwardWeights(i);
    std::copy(fw.begin(), fw.end(), b.params().begin() + a.tensors()[i].offset);
  }
  // The copies are the quantized masters, not the masters.
  const ParamTensor& q = a.tensors()[2];
  EXPECT_FALSE(
      SameBits(a.ForwardWeights(2),
               std::span<const float>(a.params()).subspan(static_cast<size_t>(q.offset), q.count)));
  // A norm is read as its master.
  EXPECT_EQ(a.ForwardWeights(1).data(), a.params().data() + a.tensors()[1].offset);

  const int64_t B = 2, T = 8, N = B * T;
  std::mt19937 rng(6);
  std::vector<int32_t> inputs(N), targets(N);
  for (int32_t& t : inputs) t = static_cast<int32_t>(rng() % 128);
  for (int32_t& t : targets) t = static_cast<int32_t>(rng() % 128);
  for (TrainableModel* m : {&a, &b}) {
    m->Reserve(B, T);
    m->ZeroGrad();
    m->Forward(inputs.data(), B, T);
  }
  EXPECT_TRUE(SameBits(a.logits(), b.logits()));
  const double la = a.CrossEntropy(targets.data(), 1.0f / N);
  const double lb = b.CrossEntropy(targets.data(), 1.0f / N);
  EXPECT_EQ(la, lb);
  a.Backward();
  b.Backward();
  EXPECT_TRUE(SameBits(a.grads(), b.grads()));

  // And not the gradient at the masters: the same model without fake quantization differs.
  TrainableModel c = TinyTrainable(4);
  c.Reserve(B, T);
  c.ZeroGrad();
  c.Forward(inputs.data(), B, T);
  c.CrossEntropy(targets.data(), 1.0f / N);
  c.Backward();
  EXPECT_FALSE(SameBits(a.grads(), c.grads()));
}

// Writing the masters through params() (as the optimizer does) re-encodes the copies at the next
// Forward, from the new masters.
TEST(TrainableModelFakeQuantTest, CopiesFollowTheMastersAfterAnUpdate) {
  TrainableModel m = TinyTrainable(7);
  ASSERT_TRUE(m.SetFakeQuant(AllMatrices(m, TensorType::kQ4_0)).ok());
  const ParamTensor& t = m.tensors()[2];
  const std::vector<float> before(m.ForwardWeights(2).begin(), m.ForwardWeights(2).end());
  std::span<float> w = m.params().subspan(static_cast<size_t>(t.offset), t.count);
  for (float& x : w) x *= 3.0f;
  const int32_t tokens[4] = {1, 2, 3, 4};
  m.Reserve(1, 4);
  m.Forward(tokens, 1, 4);
  std::vector<float> want(w.size());
  FakeQuantizeRows(Traits(TensorType::kQ4_0), w.data(), want.data(), t.count / 64, 64);
  EXPECT_TRUE(SameBits(m.ForwardWeights(2), want));
  EXPECT_FALSE(SameBits(m.ForwardWeights(2), before));
}

// Cross-entropy of the model as it will be written (the fake-quantized forward) on a fixed batch.
double QuantizedLoss(TrainableModel& m, const std::vector<int32_t>& in,
                     const std::vector<int32_t>& out, int64_t B, int64_t T) {
  m.Reserve(B, T);
  m.Forward(in.data(), B, T);
  return m.CrossEntropy(out.data(), 1.0f) / static_cast<double>(B * T);
}

// A few AdamW steps with Q4_0 fake quantization on a learnable sequence (each token determines
// the next) lower the loss of the Q4_0 model: the straight-through gradient moves the masters
// across grid points in a useful direction.
TEST(TrainableModelFakeQuantTest, TrainingLowersTheQuantizedModelsLoss) {
  TrainableModel m = TinyTrainable(8);
  ASSERT_TRUE(m.SetFakeQuant(AllMatrices(m, TensorType::kQ4_0)).ok());
  const int64_t B = 4, T = 16;
  std::vector<int32_t> stream(B * T + 1);
  stream[0] = 5;
  for (size_t i = 1; i < stream.size(); ++i) stream[i] = (stream[i - 1] * 37 + 11) % 128;
  const std::vector<int32_t> in(stream.begin(), stream.end() - 1),
      out(stream.begin() + 1, stream.end());
  const double before = QuantizedLoss(m, in, out, B, T);
  TrainOptions o;
  o.batch = B;
  o.seq = T;
  o.steps = 15;
  o.schedule.lr = 1e-2f;
  o.adamw.weight_decay = 0.0f;
  Trainer trainer(m, o);
  for (int s = 0; s < o.steps; ++s) ASSERT_TRUE(trainer.Step(in, out).ok());
  const double after = QuantizedLoss(m, in, out, B, T);
  // Uniform guessing is ln 128 = 4.85; a deterministic successor is learnable well below half.
  EXPECT_LT(after, 0.5 * before) << "before " << before << ", after " << after;
}

}  // namespace
}  // namespace shrink::train
