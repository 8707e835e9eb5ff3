#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/reference.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;

std::string TypeName(TensorType type) { return std::string(Traits(type).name); }

// Encodes random F32 values in `type` (F32 copied as is) and returns the blocks.
std::vector<uint8_t> RandomMatrix(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 0.1f);
  std::vector<float> w(rows * cols);
  for (float& v : w) v = dist(rng);
  std::vector<uint8_t> bytes(rows * RowBytes(type, cols).value());
  if (type == TensorType::kF32) {
    std::memcpy(bytes.data(), w.data(), bytes.size());
  } else {
    Traits(type).encode(w.data(), bytes.data(), rows * cols);
  }
  return bytes;
}

void Check(TensorType type, MatrixStrategy strategy, int64_t T) {
  const int64_t rows = 40, cols = 256;
  std::mt19937 rng(6);
  const std::vector<uint8_t> bytes = RandomMatrix(type, rows, cols, rng);
  MatrixRef w{type, rows, cols, bytes};
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(T * cols);
  for (float& v : x) v = dist(rng);
  std::vector<float> fast(T * rows), ref(T * rows), row(cols);
  PreparedMatrix::Prepare(w, strategy).MatMul(x.data(), T, fast.data());
  reference::MatMul(w, x.data(), T, ref.data());
  const int64_t row_bytes = RowBytes(type, cols).value();
  for (int64_t r = 0; r < rows; ++r) {
    Traits(type).decode(bytes.data() + r * row_bytes, row.data(), cols);
    for (int64_t t = 0; t < T; ++t) {
      // Both sides see the same decoded weights; an F32 dot of n terms errs by at most γ_n·Σ|w||x|,
      // γ_n = n·u / (1 - n·u) (any summation order, BLAS included).
      double abs_dot = 0.0;
      for (int64_t i = 0; i < cols; ++i) abs_dot += std::fabs(row[i] * x[t * cols + i]);
      const double gamma = cols * kU / (1 - cols * kU);
      EXPECT_NEAR(fast[t * rows + r], ref[t * rows + r], gamma * abs_dot + 1e-30)
          << TypeName(type) << " r " << r << " t " << t;
    }
  }
}

TEST(MatMulTest, F32MatrixVector) { Check(TensorType::kF32, MatrixStrategy::kDecodeToF32, 1); }
TEST(MatMulTest, F32Batched) { Check(TensorType::kF32, MatrixStrategy::kDecodeToF32, 7); }
TEST(MatMulTest, QuantizedDecodedToF32) {
  for (TensorType type : {TensorType::kQ4_1, TensorType::kQ8_0, TensorType::kF16}) {
    Check(type, MatrixStrategy::kDecodeToF32, 1);
    Check(type, MatrixStrategy::kDecodeToF32, 5);
  }
}
TEST(MatMulTest, QuantizedDecodeRows) {
  for (TensorType type : {TensorType::kQ4_1, TensorType::kQ8_0}) {
    Check(type, MatrixStrategy::kDecodeRows, 1);
    Check(type, MatrixStrategy::kDecodeRows, 3);
  }
}

// The in-place strategy (unless BlasMinRows asks for sgemm): 8-bit activation blocks for integer formats. Per
// docs/numerics.md ("Integer kernels"): |ŷ − y| <= Σ_b (d_b/2 + 381u·d_b)·Σ_{i in b}|w_i|  (the
// activation rounding) + (3u + γ_m)·Σ_i |w_i|·(|x_i| + d_b)  (F32 scaling and sums of the unit
// terms) + 2u·Σ_i |w_i·x_i|  (the weights' own decode rounding, which the integer view skips).
void CheckInteger(TensorType type, int64_t T) {
  const int64_t rows = 37, cols = 512;  // 37: row groups of 4, 8 and 16 with a short last one
  std::mt19937 rng(8);
  const std::vector<uint8_t> bytes = RandomMatrix(type, rows, cols, rng);
  const MatrixRef w{type, rows, cols, bytes};
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(T * cols);
  for (float& v : x) v = dist(rng);
  x[3] = 40.0f;  // a massive activation: its block's step d is 40/127
  std::vector<float> fast(T * rows), ref(T * rows), row(cols);
  ASSERT_LT(T, BlasMinRows());
  const PreparedMatrix m = PreparedMatrix::Prepare(w);
  ASSERT_EQ(m.strategy(), MatrixStrategy::kInPlace);
  m.MatMul(x.data(), T, fast.data());
  reference::MatMul(w, x.data(), T, ref.data());
  const int64_t row_bytes = RowBytes(type, cols).value();
  const double m_terms = (cols / 32) * 9.0 + 8;
  const double gamma = m_terms * kU / (1 - m_terms * kU);
  for (int64_t r = 0; r < rows; ++r) {
    Traits(type).decode(bytes.data() + r * row_bytes, row.data(), cols);
    for (int64_t t = 0; t < T; ++t) {
      double bound = 0.0;
      for (int64_t b = 0; b < cols / 32; ++b) {
        double amax = 0.0;
        for (int i = 0; i < 32; ++i)
          amax = std::max(amax, std::fabs(double{x[t * cols + 32 * b + i]}));
        const double d = amax / 127;
        for (int i = 0; i < 32; ++i) {
          const double wi = std::fabs(row[32 * b + i]), xi = std::fabs(x[t * cols + 32 * b + i]);
          bound +=
              (d / 2 + 381 * kU * d) * wi + (3 * kU + gamma) * wi * (xi + d) + 2 * kU * wi * xi;
        }
      }
      EXPECT_NEAR(fast[t * rows + r], ref[t * rows + r], bound)
          << TypeName(type) << " r " << r << " t " << t;
    }
  }
}

TEST(MatMulTest, InPlaceIntegerKernelsWithinTheActivationRoundingBound) {
  for (TensorType type :
       {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
        TensorType::kQ8_0, TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K,
        TensorType::kQ6_K, TensorType::kIQ4_NL, TensorType::kIQ4_XS}) {
    CheckInteger(type, 1);
    CheckInteger(type, 6);
    // Prompt batches (the register-tiled kernels): the same bound.
    CheckInteger(type, kPromptMinRows);
    CheckInteger(type, kPromptMinRows + 13);
  }
}

// Float weights in prompt batches: our tiled F32 kernel, the F32 bound.
TEST(MatMulTest, InPlaceFloatPromptBatchesAreF32Products) {
  for (TensorType type : {TensorType::kF16, TensorType::kBF16, TensorType::kF32}) {
    Check(type, MatrixStrategy::kInPlace, kPromptMinRows);
    Check(type, MatrixStrategy::kInPlace, kPromptMinRows + 3);
  }
}

// From BlasMinRows rows on (when set), decoded tiles and sgemm: F32 activations, the F32 bound.
TEST(MatMulTest, InPlaceExactBatchesAreF32Products) {
  const int64_t saved = BlasMinRows();
  SetBlasMinRows(kPromptMinRows);
  for (TensorType type :
       {TensorType::kQ4_1, TensorType::kQ8_0, TensorType::kF16, TensorType::kF32}) {
    Check(type, MatrixStrategy::kInPlace, kPromptMinRows);
    Check(type, MatrixStrategy::kInPlace, kPromptMinRows + 3);
  }
  SetBlasMinRows(saved);
}

// Rows are split over the kernel thread pool; every output is computed the same way whichever
// thread runs it, so results are bit-identical for any thread count (generation and prompt
// kernels). 333 rows make whole chunk runs for generation's split (2 per thread at 1-3 threads),
// 1000 a short last chunk at 3 threads, 20 fewer chunks than threads want.
TEST(MatMulTest, ResultsDoNotDependOnTheThreadCount) {
  std::mt19937 rng(10);
  const int64_t cols = 256;
  for (int64_t rows : {333, 1000, 20})
    for (TensorType type : {TensorType::kQ4_1, TensorType::kQ8_0, TensorType::kF16}) {
      const std::vector<uint8_t> bytes = RandomMatrix(type, rows, cols, rng);
      const PreparedMatrix m = PreparedMatrix::Prepare({type, rows, cols, bytes});
      for (int64_t T : {int64_t{1}, int64_t{5}, kPromptMinRows + 1, 2 * kPromptMinRows + 7}) {
        std::normal_distribution<float> dist(0.0f, 1.0f);
        std::vector<float> x(T * cols);
        for (float& v : x) v = dist(rng);
        std::vector<float> first;
        for (int threads : {1, 2, 3}) {
          SetMatMulThreads(threads);
          std::vector<float> y(T * rows);
          m.MatMul(x.data(), T, y.data());
          if (first.empty()) {
            first = y;
          } else {
            EXPECT_EQ(std::memcmp(first.data(), y.data(), sizeof(float) * y.size()), 0)
                << TypeName(type) << " rows " << rows << " T " << T << " threads " << threads;
          }
        }
      }
    }
  SetMatMulThreads(2);
}

// A SharedInput quantizes x once for several products: each product equals its plain MatMul bit
// for bit, also when another SharedInput took the per-thread blocks in between (it quantizes
// again) and when one of the same address replaces a destroyed one.
TEST(MatMulTest, SharedInputGivesThePlainProducts) {
  std::mt19937 rng(12);
  const int64_t cols = 256;
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<PreparedMatrix> matrices;
  const TensorType types[] = {TensorType::kQ4_1, TensorType::kQ8_0, TensorType::kF16,
                              TensorType::kQ6_K};
  for (TensorType type : types) {
    bytes.push_back(RandomMatrix(type, 48, cols, rng));
    matrices.push_back(PreparedMatrix::Prepare({type, 48, cols, bytes.back()}));
  }
  for (int64_t T : {int64_t{1}, int64_t{3}, kPromptMinRows + 5}) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(T * cols), other(T * cols);
    for (float& v : x) v = dist(rng);
    for (float& v : other) v = dist(rng);
    for (int round = 0; round < 2; ++round) {
      const SharedInput in(x.data(), T, cols);
      for (size_t i = 0; i < matrices.size(); ++i) {
        std::vector<float> plain(T * 48), shared(T * 48), unrelated(T * 48);
        matrices[i].MatMul(x.data(), T, plain.data());
        matrices[i].MatMul(in, shared.data());
        EXPECT_EQ(plain, shared) << TypeName(types[i]) << " T " << T;
        {
          const SharedInput intruder(other.data(), T, cols);
          matrices[i].MatMul(intruder, unrelated.data());
        }
        matrices[i].MatMul(in, shared.data());
        EXPECT_EQ(plain, shared) << TypeName(types[i]) << " T " << T << " after another input";
      }
      // The next round's SharedInput sits at the same address with new values.
      for (float& v : x) v = dist(rng);
    }
  }
}

TEST(MatMulTest, TypesWithoutKernelsFallBackToDecodedCopies) {
  std::mt19937 rng(9);
  // Q8_K (llama.cpp's activation blocks) is the one table type without an integer view.
  const std::vector<uint8_t> q8k(4 * RowBytes(TensorType::kQ8_K, 256).value(), 0);
  const PreparedMatrix m = PreparedMatrix::Prepare({TensorType::kQ8_K, 4, 256, q8k});
  EXPECT_EQ(m.strategy(), MatrixStrategy::kDecodeToF32);
  EXPECT_EQ(m.owned_bytes(), 4 * 256 * 4);
  const std::vector<uint8_t> q4 = RandomMatrix(TensorType::kQ4_1, 1, 256, rng);
  EXPECT_EQ(PreparedMatrix::Prepare({TensorType::kQ4_1, 1, 256, q4}).owned_bytes(), 0);
}

TEST(MatMulTest, DecodeRowMatchesFormatsDecode) {
  std::mt19937 rng(7);
  const std::vector<uint8_t> bytes = RandomMatrix(TensorType::kQ8_0, 4, 64, rng);
  MatrixRef w{TensorType::kQ8_0, 4, 64, bytes};
  std::vector<float> expected(64), a(64), b(64);
  Traits(TensorType::kQ8_0)
      .decode(bytes.data() + 2 * RowBytes(TensorType::kQ8_0, 64).value(), expected.data(), 64);
  PreparedMatrix::Prepare(w, MatrixStrategy::kDecodeToF32).DecodeRow(2, a.data());
  PreparedMatrix::Prepare(w, MatrixStrategy::kDecodeRows).DecodeRow(2, b.data());
  std::vector<float> c(64);
  PreparedMatrix::Prepare(w, MatrixStrategy::kInPlace).DecodeRow(2, c.data());
  EXPECT_EQ(a, expected);
  EXPECT_EQ(b, expected);
  EXPECT_EQ(c, expected);
}

}  // namespace
}  // namespace shrink
