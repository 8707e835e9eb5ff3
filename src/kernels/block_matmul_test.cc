// The dispatched in-place products on every compiled target this CPU supports, against the scalar
// references (reference.h), with tolerances from docs/numerics.md ("Integer kernels").
#include "kernels/block_matmul.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/cpu_target.h"
#include "kernels/random_blocks_test_util.h"
#include "kernels/reference.h"
#include "kernels/weight_units.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;  // F32 unit roundoff

std::string Name(TensorType type) { return std::string(Traits(type).name); }

std::vector<float> RandomActivations(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

// Σ over the unit terms of |scale·d|·Σ|q_w·q_x| + |min·d·Σq_x| for row r and activation row xq:
// the magnitude the F32 rounding of the fast kernel is relative to.
double TermMagnitude(const MatrixRef& w, int64_t r, const ActBlock* xq) {
  double total = 0.0;
  VisitUnits(w.type, [&](auto units) {
    using U = decltype(units);
    const int64_t n_blocks = w.cols / (kUnitElements * U::kUnits);
    const auto* blocks = reinterpret_cast<const typename U::Block*>(w.data.data()) + r * n_blocks;
    for (int64_t b = 0; b < n_blocks; ++b) {
      UnitScales s[U::kUnits];
      U::Scales(blocks[b], s);
      for (int u = 0; u < U::kUnits; ++u) {
        int8_t q[32];
        U::Quants(blocks[b], u, q);
        const ActBlock& x = xq[b * U::kUnits + u];
        for (int h = 0; h < 2; ++h) {
          double abs_dot = 0.0;
          for (int i = 16 * h; i < 16 * h + 16; ++i) abs_dot += std::abs(q[i] * x.q[i]);
          total += std::fabs(double{s[u].scale[h]} * x.d) * abs_dot +
                   std::fabs(double{s[u].min[h]} * x.ds_half[h]);
        }
      }
    }
  });
  return total;
}

HWY_BEFORE_TEST(BlockMatMulTest);

// Integer kernels against the scalar integer reference: same integers, so only F32 rounding of the
// unit terms differs. Each term is rounded at most 3 times (scale·d, ·isum, + into the lane) and a
// row adds m <= units·(lanes + 1) + lanes terms: |fast − ref| <= (3u + γ_m)·Σ|terms| + u·|ref| (the
// reference's own rounding to F32).
TEST_P(BlockMatMulTest, IntegerKernelsMatchScalarReference) {
  std::mt19937 rng(21);
  for (TensorType type : kIntegerKernelTypes) {
    const int64_t rows = 13, cols = 512;
    const std::vector<uint8_t> bytes = RandomBlocks(type, rows, cols, rng);
    const MatrixRef w{type, rows, cols, bytes};
    for (int64_t T : {1, 3, 4, 9}) {
      const std::vector<float> x = RandomActivations(T * cols, rng);
      std::vector<ActBlock> xq(T * cols / 32);
      QuantizeActivations(x.data(), T * cols, xq.data());
      std::vector<float> fast(T * rows, NAN), whole(T * rows, NAN), ref(T * rows);
      // Two row ranges: results must not depend on how rows are split (row tiles of 1, 2 or 4).
      BlockMatMulRows(w, x.data(), xq.data(), T, 0, 5, fast.data());
      BlockMatMulRows(w, x.data(), xq.data(), T, 5, rows, fast.data());
      BlockMatMulRows(w, x.data(), xq.data(), T, 0, rows, whole.data());
      reference::QuantizedMatMulRows(w, xq.data(), T, 0, rows, ref.data());
      const double m = (cols / 32) * 9.0 + 8;
      for (int64_t t = 0; t < T; ++t) {
        // Token t alone (generation's one-token tiles) gives the same bits as in the batch.
        std::vector<float> alone(rows, NAN);
        BlockMatMulRows(w, x.data() + t * cols, xq.data() + t * cols / 32, 1, 0, rows,
                        alone.data());
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = t * rows + r;
          const double magnitude = TermMagnitude(w, r, xq.data() + t * cols / 32);
          const double bound =
              (3 * kU + m * kU / (1 - m * kU)) * magnitude + kU * std::fabs(ref[i]);
          ASSERT_NEAR(fast[i], ref[i], bound)
              << Name(type) << " T " << T << " t " << t << " r " << r << " on " << CpuTargetName();
          ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(whole[i]))
              << Name(type) << " T " << T << " t " << t << " r " << r << " on " << CpuTargetName();
          ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(alone[r]))
              << Name(type) << " T " << T << " t " << t << " r " << r << " on " << CpuTargetName();
        }
      }
    }
  }
}

// The prompt kernels (BlockGemmRows) against the same scalar reference and bound: per unit they
// add the same terms (scale·d·Σq_w·q_x and min·d·Σq_x per half), each rounded at most 3 times.
// Rows: 37 (groups of 4, 8 or 16 with a short last one), split at a row inside a group; T covers
// full and short token tiles on every target.
TEST_P(BlockMatMulTest, GemmKernelsMatchScalarReference) {
  std::mt19937 rng(24);
  for (TensorType type : kIntegerKernelTypes) {
    const int64_t rows = 37, cols = 512;
    const std::vector<uint8_t> bytes = RandomBlocks(type, rows, cols, rng);
    const MatrixRef w{type, rows, cols, bytes};
    for (int64_t T : {1, 7, 16, 21}) {
      const std::vector<float> x = RandomActivations(T * cols, rng);
      std::vector<ActBlock> xq(T * cols / 32);
      QuantizeActivations(x.data(), T * cols, xq.data());
      std::vector<float> fast(T * rows, NAN), split(T * rows, NAN), ref(T * rows);
      BlockGemmRows(w, x.data(), xq.data(), T, 0, rows, fast.data());
      BlockGemmRows(w, x.data(), xq.data(), T, 0, 11, split.data());
      BlockGemmRows(w, x.data(), xq.data(), T, 11, rows, split.data());
      reference::QuantizedMatMulRows(w, xq.data(), T, 0, rows, ref.data());
      const double m = (cols / 32) * 9.0 + 8;
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = t * rows + r;
          const double magnitude = TermMagnitude(w, r, xq.data() + t * cols / 32);
          const double bound =
              (3 * kU + m * kU / (1 - m * kU)) * magnitude + kU * std::fabs(ref[i]);
          ASSERT_NEAR(fast[i], ref[i], bound)
              << Name(type) << " T " << T << " t " << t << " r " << r << " on " << CpuTargetName();
          // A row's result does not depend on the rows sharing its group (the thread split).
          ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(split[i]))
              << Name(type) << " T " << T << " t " << t << " r " << r << " on " << CpuTargetName();
        }
      }
    }
  }
}

// F32/F16/BF16 rows against the F64 reference on the same decoded weights: an F32 dot of n terms
// errs by at most γ_n·Σ|w·x| in any summation order; plus the reference's rounding to F32.
TEST_P(BlockMatMulTest, FloatKernelsMatchReference) {
  std::mt19937 rng(22);
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kBF16}) {
    for (int64_t cols : {64, 100, 257}) {  // whole vectors, and tails
      const int64_t rows = 7;
      const std::vector<uint8_t> bytes = RandomBlocks(type, rows, cols, rng);
      const MatrixRef w{type, rows, cols, bytes};
      for (int64_t T : {1, 5}) {
        const std::vector<float> x = RandomActivations(T * cols, rng);
        std::vector<float> fast(T * rows), split(T * rows), ref(T * rows), row(cols);
        BlockMatMulRows(w, x.data(), nullptr, T, 0, rows, fast.data());
        // Rows 0..2 in a tile of 2, row 2 alone: the same bits (one chain per row and token).
        BlockMatMulRows(w, x.data(), nullptr, T, 0, 2, split.data());
        BlockMatMulRows(w, x.data(), nullptr, T, 2, 3, split.data());
        BlockMatMulRows(w, x.data(), nullptr, T, 3, rows, split.data());
        reference::MatMul(w, x.data(), T, ref.data());
        const double gamma = cols * kU / (1 - cols * kU);
        for (int64_t r = 0; r < rows; ++r) {
          Traits(type).decode(bytes.data() + r * bytes.size() / rows, row.data(), cols);
          for (int64_t t = 0; t < T; ++t) {
            double abs_dot = 0.0;
            for (int64_t i = 0; i < cols; ++i) abs_dot += std::fabs(row[i] * x[t * cols + i]);
            ASSERT_NEAR(fast[t * rows + r], ref[t * rows + r],
                        gamma * abs_dot + kU * std::fabs(ref[t * rows + r]))
                << Name(type) << " cols " << cols << " on " << CpuTargetName();
            ASSERT_EQ(std::bit_cast<uint32_t>(fast[t * rows + r]),
                      std::bit_cast<uint32_t>(split[t * rows + r]))
                << Name(type) << " cols " << cols << " r " << r << " on " << CpuTargetName();
          }
        }
      }
    }
  }
}

// Decoding in SIMD uses the formats table's float operations: bit-identical for every type.
TEST_P(BlockMatMulTest, DecodeRowsIsBitIdenticalToFormatsDecode) {
  std::mt19937 rng(23);
  for (const TypeTraits& tt : AllTypes()) {
    if (tt.type == TensorType::kQ8_K) continue;  // an activation format, never stored weights
    const int64_t rows = 5, cols = 512;
    const std::vector<uint8_t> bytes = RandomBlocks(tt.type, rows, cols, rng);
    const MatrixRef w{tt.type, rows, cols, bytes};
    std::vector<float> fast((rows - 1) * cols), expected(rows * cols);
    DecodeRows(w, 1, rows, fast.data());
    tt.decode(bytes.data(), expected.data(), rows * cols);
    for (int64_t i = 0; i < (rows - 1) * cols; ++i) {
      const float e = expected[cols + i];
      if (std::isnan(e)) continue;  // random bytes of types without scale fix-ups
      ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(e))
          << tt.name << " element " << i << ": " << fast[i] << " vs " << e << " on "
          << CpuTargetName();
    }
  }
}

TEST(BlockKernelTest, KernelKinds) {
  for (TensorType type : kIntegerKernelTypes) {
    EXPECT_EQ(BlockKernelFor(type), BlockKernel::kInteger) << Name(type);
  }
  EXPECT_EQ(BlockKernelFor(TensorType::kF16), BlockKernel::kFloat);
  EXPECT_EQ(BlockKernelFor(TensorType::kBF16), BlockKernel::kFloat);
  EXPECT_EQ(BlockKernelFor(TensorType::kF32), BlockKernel::kFloat);
  EXPECT_EQ(BlockKernelFor(TensorType::kQ8_K), BlockKernel::kNone);  // activations only
}

// When SHRINK_CPU is set (ctest runs this binary once more with SHRINK_CPU=scalar), the kernels
// dispatch to that target.
TEST(CpuTargetTest, EnvironmentChoosesTheTarget) {
  ASSERT_TRUE(ApplyCpuTargetFromEnvironment().ok());
  const char* forced = std::getenv("SHRINK_CPU");
  if (forced == nullptr || *forced == '\0') GTEST_SKIP() << "SHRINK_CPU is not set";
  EXPECT_EQ(CpuTargetName(), forced);
}

TEST(CpuTargetTest, BadNamesAreErrors) {
  const Status unknown = SetCpuTarget("avx9000");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("unknown target"), std::string::npos) << unknown.message();
  EXPECT_NE(unknown.message().find("scalar"), std::string::npos) << unknown.message();
  ASSERT_TRUE(SetCpuTarget("scalar").ok());
  EXPECT_EQ(CpuTargetName(), "scalar");
  ASSERT_TRUE(SetCpuTarget("").ok());
  EXPECT_NE(CpuTargetName(), "scalar");
  const char* forced = std::getenv("SHRINK_CPU");  // leave the process as the environment set it
  if (forced != nullptr) {
    ASSERT_TRUE(SetCpuTarget(forced).ok());
  }
}

}  // namespace
}  // namespace shrink
