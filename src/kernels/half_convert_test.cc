#include "kernels/half_convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "formats/float_types.h"
#include "hwy/tests/hwy_gtest.h"

namespace shrink {
namespace {

// Every compiled target this CPU supports: vectors (F16C) or the scalar twin must give the formats
// table's F32ToF16 bits (the F16 encoding the formats tests hold byte-identical to ggml's).
HWY_BEFORE_TEST(HalfConvertTest);

TEST_P(HalfConvertTest, MatchesFormatsRounding) {
  std::vector<float> in = {0.0f,  -0.0f, 1.0f,    -2.5f,  65504.0f, 65519.99f, 65520.0f, -1e6f,
                           6e-8f, 3e-8f, 2.9e-8f, 1e-40f, 6.1e-5f,  6.09e-5f,  INFINITY, -INFINITY};
  // Ties: 1 + 2^-11 (halfway between 1 and the next half) rounds to even, 1 + 3·2^-11 up.
  in.push_back(1.0f + 0x1p-11f);
  in.push_back(1.0f + 3 * 0x1p-11f);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> exponent(-30.0f, 18.0f);
  std::uniform_int_distribution<uint32_t> bits(0, 0xffffffu);
  for (int i = 0; i < 4000; ++i) {
    // Random magnitudes over the F16 range and past it, with random low mantissa bits (ties too).
    const float v =
        std::ldexp(1.0f + (bits(rng) & 0x7fffff) * 0x1p-23f, static_cast<int>(exponent(rng))) *
        (i % 2 ? 1.0f : -1.0f);
    in.push_back(v);
  }
  std::vector<uint16_t> out(in.size());
  // Odd offset and length: vector body and scalar tail both run.
  ConvertToF16(in.data() + 1, static_cast<int64_t>(in.size()) - 1, out.data() + 1);
  for (size_t i = 1; i < in.size(); ++i) {
    EXPECT_EQ(out[i], F32ToF16(in[i])) << "i " << i << " value " << in[i];
  }
}

TEST_P(HalfConvertTest, NanStaysNan) {
  const std::vector<float> in(21, std::numeric_limits<float>::quiet_NaN());
  std::vector<uint16_t> out(in.size());
  ConvertToF16(in.data(), static_cast<int64_t>(in.size()), out.data());
  for (uint16_t h : out) EXPECT_TRUE(std::isnan(F16ToF32(h)));
}

}  // namespace
}  // namespace shrink
