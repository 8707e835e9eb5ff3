#include "base/checked_math.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace shrink {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(CheckedMathTest, AddAtTheEdges) {
  EXPECT_EQ(CheckedAdd<int64_t>(kMax - 1, 1), kMax);
  EXPECT_EQ(CheckedAdd<int64_t>(kMax, 1), std::nullopt);
  EXPECT_EQ(CheckedAdd<int64_t>(kMin, -1), std::nullopt);
  EXPECT_EQ(CheckedAdd<uint64_t>(~uint64_t{0}, 1), std::nullopt);
  EXPECT_EQ(CheckedAdd<int32_t>(2147483000, 647), 2147483647);
  EXPECT_EQ(CheckedAdd<int32_t>(2147483000, 648), std::nullopt);
}

TEST(CheckedMathTest, MulAtTheEdges) {
  EXPECT_EQ(CheckedMul<int64_t>(int64_t{1} << 31, int64_t{1} << 31), int64_t{1} << 62);
  EXPECT_EQ(CheckedMul<int64_t>(int64_t{1} << 32, int64_t{1} << 31), std::nullopt);  // 2^63
  EXPECT_EQ(CheckedMul<int64_t>(-(int64_t{1} << 32), int64_t{1} << 31), kMin);       // -2^63 fits
  EXPECT_EQ(CheckedMul<int64_t>(kMax, 0), 0);
  EXPECT_EQ(CheckedMul<uint64_t>(uint64_t{1} << 32, uint64_t{1} << 32), std::nullopt);
}

TEST(CheckedMathTest, ProductOfSizes) {
  EXPECT_EQ(CheckedProduct<int64_t>({}), 1);
  EXPECT_EQ(CheckedProduct<int64_t>({32, 172, 64}), 352256);
  // A product that wraps to a small number in 64 bits: 2^28 · 2^28 · 2^8 = 2^64 ≡ 0.
  EXPECT_EQ(CheckedProduct<uint64_t>({uint64_t{1} << 28, uint64_t{1} << 28, 256}), std::nullopt);
  EXPECT_EQ(CheckedProduct<int64_t>({int64_t{1} << 28, int64_t{1} << 28, 128}), std::nullopt);
  EXPECT_EQ(CheckedProduct<int64_t>({int64_t{1} << 28, int64_t{1} << 28, 127}), int64_t{127} << 56);
}

}  // namespace
}  // namespace shrink
