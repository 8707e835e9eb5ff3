#include "formats/float_types.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

namespace shrink {
namespace {

// Properties over every 16-bit pattern (the fixtures compare against numpy on a sample).
TEST(FloatTypesTest, F16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
    if (nan) {
      ASSERT_TRUE(std::isnan(f)) << h;
      // A NaN comes back with its sign and payload, quiet bit forced on.
      ASSERT_EQ(F32ToF16(f), h | 0x200) << h;
    } else {
      ASSERT_EQ(F32ToF16(f), h) << h;
    }
  }
}

TEST(FloatTypesTest, BF16RoundTripsEveryPattern) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = BF16ToF32(static_cast<uint16_t>(b));
    const bool nan = (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0;
    ASSERT_EQ(F32ToBF16(f), nan ? (b | 0x40) : b) << b;
  }
}

// IEEE 754 facts, derived by hand: the half grid near 1 has spacing 2^-10, the largest finite half
// is 65504 and values from 65520 (= 65504 + half an ulp, a tie toward the even 65536) round to inf.
TEST(FloatTypesTest, F16KnownValues) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xc000);
  EXPECT_EQ(F32ToF16(1.0f + 0x1p-11f), 0x3c00);      // tie -> even (1.0)
  EXPECT_EQ(F32ToF16(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie -> even (1 + 2^-9)
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65519.996f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);
  EXPECT_EQ(F32ToF16(0x1p-24f), 0x0001);      // smallest subnormal
  EXPECT_EQ(F32ToF16(0x1p-25f), 0x0000);      // tie -> even (0)
  EXPECT_EQ(F32ToF16(3 * 0x1p-25f), 0x0002);  // tie -> even (2 * 2^-24)
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(F32ToF16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(F16ToF32(0x0001), 0x1p-24f);
  EXPECT_EQ(F16ToF32(0x03ff), 1023 * 0x1p-24f);
  EXPECT_EQ(F16ToF32(0x0400), 0x1p-14f);
}

TEST(FloatTypesTest, BF16KnownValues) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x7f800001u)), 0x7fc0);  // signalling NaN quieted
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x00018000u)), 0x0002);  // subnormals kept, not flushed
}

}  // namespace
}  // namespace shrink
