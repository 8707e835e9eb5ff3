#include "kernels/matmul.h"

#include <gtest/gtest.h>

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

TEST(MatMulTest, DecodeRowMatchesFormatsDecode) {
  std::mt19937 rng(7);
  const std::vector<uint8_t> bytes = RandomMatrix(TensorType::kQ8_0, 4, 64, rng);
  MatrixRef w{TensorType::kQ8_0, 4, 64, bytes};
  std::vector<float> expected(64), a(64), b(64);
  Traits(TensorType::kQ8_0)
      .decode(bytes.data() + 2 * RowBytes(TensorType::kQ8_0, 64).value(), expected.data(), 64);
  PreparedMatrix::Prepare(w, MatrixStrategy::kDecodeToF32).DecodeRow(2, a.data());
  PreparedMatrix::Prepare(w, MatrixStrategy::kDecodeRows).DecodeRow(2, b.data());
  EXPECT_EQ(a, expected);
  EXPECT_EQ(b, expected);
}

}  // namespace
}  // namespace shrink
