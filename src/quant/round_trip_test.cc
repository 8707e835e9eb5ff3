// Round-trip error bounds of every type with an encoder, derived from the format's step size
// (docs/numerics.md, "Round-trip error of the reference encoders"): for random blocks over eight
// decades of scale, |x − decode(encode(x))| stays within the bound of each element's block, and
// the bound is tight (its leading half-step term is reached).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/float_types.h"
#include "formats/iq_quants.h"
#include "formats/types.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;                 // F32 unit roundoff
constexpr double kU16 = 0x1p-11;               // F16 unit roundoff (normal range)
constexpr double kF16HalfSubnormal = 0x1p-25;  // half the spacing of F16 subnormals

// |v − f16(v)| for a value in F16's range, normal or subnormal.
double F16Error(double v) { return std::max(kU16 * std::abs(v), kF16HalfSubnormal); }

struct Bound {
  double value;      // the bound for this element
  double half_step;  // its leading term (half the block's step), for the tightness check
};

// The bound for element x of `block` (32 values) encoded in `type`, computing the block's step
// as the encoder does (docs/numerics.md).
Bound BlockBound(TensorType type, const float* block, float x) {
  float amax = 0, max = 0, lo = block[0], hi = block[0];
  for (int i = 0; i < 32; ++i) {
    if (std::abs(block[i]) > amax) amax = std::abs(block[i]), max = block[i];
    lo = std::min(lo, block[i]), hi = std::max(hi, block[i]);
  }
  switch (type) {
    case TensorType::kQ8_0: {
      const double d = amax / 127.0f, Q = 127;
      return {d / 2 + Q * F16Error(d) + 4 * Q * kU * d, d / 2};
    }
    case TensorType::kQ4_0:
    case TensorType::kQ5_0: {
      // d = max / −Q with max the signed extreme: the grid is d·(q − Q), q < 2Q, so values of the
      // other sign than max reach at most d·(Q − 1): those beyond d·(Q − 1/2) are clamped, with an
      // error up to a whole step.
      const double Q = type == TensorType::kQ4_0 ? 8 : 16;
      const double d = std::abs(max / static_cast<float>(-Q));
      const double t = max == 0 ? 0 : x / (max / -Q);  // x in units of the signed step
      const double h = t > Q - 0.5 ? d : d / 2;
      return {h + Q * F16Error(d) + 4 * Q * kU * d, d / 2};
    }
    case TensorType::kQ4_1:
    case TensorType::kQ5_1: {
      const double Q = type == TensorType::kQ4_1 ? 15 : 31;
      const double d = (hi - lo) / static_cast<float>(Q);
      const double magnitude = std::max(std::abs(lo), std::abs(hi));
      // Half a step, the step's F16 rounding times the largest quant, the min's F16 rounding, the
      // F32 rounding of d·q + m, and of (x − min)·(1/d) before truncation.
      return {d / 2 + Q * F16Error(d) + F16Error(lo) + kU * 2 * magnitude + 4 * Q * kU * d, d / 2};
    }
    case TensorType::kF16:
      return {F16Error(x), 0};
    case TensorType::kBF16:
      return {0x1p-8 * std::abs(x), 0};  // 8 significant bits, round to nearest even
    case TensorType::kF32:
      return {0, 0};
    default:
      ADD_FAILURE() << "no bound for " << Traits(type).name;
      return {0, 0};
  }
}

// Random rows: Gaussian blocks scaled over eight and a half decades (1e-5..10^3.5), some shifted
// away from zero (so the _1 formats' mins matter), a few constant. Every value, step and min stays
// inside F16's range (|v| < 65504), the bounds' precondition: beyond it the stored F16 fields
// overflow to infinity.
std::vector<float> RandomRows(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> decade(-5, 3.5f);
  std::vector<float> x(n);
  for (int64_t b = 0; b < n; b += 32) {
    const float scale = std::pow(10.0f, decade(rng));
    const float shift = (b / 32) % 4 == 1 ? 3 * scale : 0;
    const bool constant = (b / 32) % 37 == 5;
    for (int i = 0; i < 32; ++i) x[b + i] = constant ? scale : shift + scale * normal(rng);
  }
  return x;
}

class RoundTripTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(RoundTripTest, ErrorWithinTheStepBound) {
  const TypeTraits& t = Traits(GetParam());
  ASSERT_NE(t.encode, nullptr);
  constexpr int64_t n = 32 * 4096;
  const std::vector<float> x = RandomRows(n, 7 + static_cast<uint32_t>(t.type));
  std::vector<uint8_t> bytes(*RowBytes(t.type, n));
  std::vector<float> y(n);
  t.encode(x.data(), bytes.data(), n);
  t.decode(bytes.data(), y.data(), n);
  double worst_ratio = 0;  // max over elements of error / half_step
  for (int64_t i = 0; i < n; ++i) {
    const Bound b = BlockBound(t.type, &x[i / 32 * 32], x[i]);
    const double err = std::abs(static_cast<double>(x[i]) - y[i]);
    ASSERT_LE(err, b.value) << t.name << " element " << i << ": x = " << x[i] << ", y = " << y[i];
    if (b.half_step > 0) worst_ratio = std::max(worst_ratio, err / b.half_step);
  }
  // Tight: some element lands almost half a step (or, clamped, a whole step) from the grid.
  if (t.block_elements > 1) {
    EXPECT_GT(worst_ratio, 0.95) << t.name;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryEncoder, RoundTripTest,
                         ::testing::Values(TensorType::kF32, TensorType::kF16, TensorType::kBF16,
                                           TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                                           TensorType::kQ5_0, TensorType::kQ5_1),
                         [](const auto& info) { return std::string(Traits(info.param).name); });

// IQ4_NL and IQ4_XS (docs/numerics.md, "The IQ4 formats"): their scales come from a search, so
// the bound is stated against the scale the block stores, read back from the bytes: each element
// lands on the level of that grid nearest to it, up to the stored scale's F16 rounding and the F32
// rounding of x·(1/s).

// One 32-element group's grid as stored (s16: the decoded scale, d16·l for an IQ4_XS sub-block)
// and how far the scale the encoder rounded against may be from it.
struct Iq4Group {
  double stored_scale;
  double scale_error;
};

Iq4Group Iq4GroupOf(TensorType type, const uint8_t* bytes, int64_t group) {
  if (type == TensorType::kIQ4_NL) {
    BlockIQ4_NL b;
    std::memcpy(&b, bytes + group * sizeof(b), sizeof(b));
    const double s16 = F16ToF32(b.d);
    // |s − s16| ≤ e₁₆(s) ≤ e₁₆(s16)·(1 + 2⁻¹⁰), since |s| ≤ |s16| + e₁₆(s).
    return {s16, F16Error(s16) * (1 + 0x1p-10)};
  }
  BlockIQ4_XS b;
  std::memcpy(&b, bytes + group / 8 * sizeof(b), sizeof(b));
  const int ib = static_cast<int>(group % 8);
  const int l =
      (((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | (((b.scales_h >> (2 * ib)) & 3) << 4)) - 32;
  const double d16 = F16ToF32(b.d);
  // The encoder rounds against fl(d·l) with d unrounded: |d − d16|·|l| plus that product's F32
  // rounding.
  const double d_error = F16Error(d16) * (1 + 0x1p-10);
  return {d16 * l, d_error * std::abs(l) + kU * (std::abs(d16) + d_error) * std::abs(l)};
}

// Distance from x to the nearest point of the grid s·kIq4nlValues, and half the gap between the
// two levels around x/s (the largest such distance at that place; 0 outside the table's range).
struct GridDistance {
  double distance;
  double half_gap;
};

GridDistance DistanceToGrid(double x, double s) {
  GridDistance g{std::abs(x), 0};  // a zero scale: every level decodes to 0
  if (s == 0) return g;
  g.distance = std::abs(x - s * kIq4nlValues[0]);
  for (int8_t level : kIq4nlValues) g.distance = std::min(g.distance, std::abs(x - s * level));
  const double t = x / s;
  for (int k = 0; k + 1 < 16; ++k) {
    if (t >= kIq4nlValues[k] && t <= kIq4nlValues[k + 1]) {
      g.half_gap = std::abs(s) * (kIq4nlValues[k + 1] - kIq4nlValues[k]) / 2;
    }
  }
  return g;
}

class Iq4RoundTripTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(Iq4RoundTripTest, EveryElementOnItsNearestStoredLevel) {
  const TypeTraits& t = Traits(GetParam());
  ASSERT_NE(t.encode, nullptr);
  constexpr int64_t n = 32 * 4096;
  const std::vector<float> x = RandomRows(n, 7 + static_cast<uint32_t>(t.type));
  std::vector<uint8_t> bytes(*RowBytes(t.type, n));
  std::vector<float> y(n);
  t.encode(x.data(), bytes.data(), n);
  t.decode(bytes.data(), y.data(), n);
  constexpr double kMaxLevel = 127;  // the largest |level|
  double worst_ratio = 0;            // max over in-range elements of error / half the local gap
  for (int64_t i = 0; i < n; ++i) {
    const Iq4Group g = Iq4GroupOf(t.type, bytes.data(), i / 32);
    const GridDistance grid = DistanceToGrid(x[i], g.stored_scale);
    // Rounding against s instead of s16 moves every grid point by at most 127·|s − s16|, once when
    // the level is chosen and once when it is decoded; fl(fl(1/s)·x) is off by two F32 roundings
    // of at most 127 levels, which can flip a near-tie by 4·127·u steps. Decoding s16·level is
    // exact (at most 17 + 7 significant bits).
    const double bound = grid.distance + 2 * kMaxLevel * g.scale_error +
                         4 * kMaxLevel * kU * (std::abs(g.stored_scale) + g.scale_error);
    const double err = std::abs(static_cast<double>(x[i]) - y[i]);
    ASSERT_LE(err, bound) << t.name << " element " << i << ": x = " << x[i] << ", y = " << y[i]
                          << ", stored scale " << g.stored_scale;
    if (grid.half_gap > 0) worst_ratio = std::max(worst_ratio, err / grid.half_gap);
  }
  // Tight: some element sits almost halfway between two levels.
  EXPECT_GT(worst_ratio, 0.95) << t.name;
}

INSTANTIATE_TEST_SUITE_P(Iq4, Iq4RoundTripTest,
                         ::testing::Values(TensorType::kIQ4_NL, TensorType::kIQ4_XS),
                         [](const auto& info) { return std::string(Traits(info.param).name); });

TEST(RoundTripTest, EveryEncoderInTheTableIsCovered) {
  for (const TypeTraits& t : AllTypes()) {
    if (t.encode == nullptr) continue;
    const bool covered = t.type == TensorType::kF32 || t.type == TensorType::kF16 ||
                         t.type == TensorType::kBF16 || t.type == TensorType::kQ8_0 ||
                         t.type == TensorType::kQ4_0 || t.type == TensorType::kQ4_1 ||
                         t.type == TensorType::kQ5_0 || t.type == TensorType::kQ5_1 ||
                         t.type == TensorType::kIQ4_NL || t.type == TensorType::kIQ4_XS;
    EXPECT_TRUE(covered) << t.name << " has an encoder but no round-trip bound: add one";
  }
}

TEST(RoundTripTest, Q4_0ClampsTheOppositeExtremeByUpToAWholeStep) {
  // max = −1 (first of largest magnitude), d = 1/8: +0.99 is 7.92 steps up, but the grid stops
  // at 7 steps: error 0.115 = 0.92 d, beyond half a step.
  float x[32] = {-1.0f, 0.99f};
  uint8_t block[18];
  float y[32];
  Traits(TensorType::kQ4_0).encode(x, block, 32);
  Traits(TensorType::kQ4_0).decode(block, y, 32);
  EXPECT_FLOAT_EQ(y[0], -1.0f);
  EXPECT_FLOAT_EQ(y[1], 7.0f / 8.0f);
  EXPECT_LE(std::abs(x[1] - y[1]), BlockBound(TensorType::kQ4_0, x, x[1]).value);
}

}  // namespace
}  // namespace shrink
