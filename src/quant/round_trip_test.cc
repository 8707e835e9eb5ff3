// Round-trip error bounds of every type with an encoder, derived from the format's step size
// (docs/numerics.md, "Round-trip error of the reference encoders"): for random blocks over eight
// decades of scale, |x − decode(encode(x))| stays within the bound of each element's block, and
// the bound is tight (its leading half-step term is reached).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "formats/float_types.h"
#include "formats/iq_quants.h"
#include "formats/k_quants.h"
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

// x encoded with the type's reference encoder and decoded again.
struct RoundTrip {
  std::vector<uint8_t> bytes;
  std::vector<float> y;
};
RoundTrip EncodeDecode(const TypeTraits& t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  RoundTrip r{std::vector<uint8_t>(*RowBytes(t.type, n)), std::vector<float>(x.size())};
  t.encode(x.data(), r.bytes.data(), n);
  t.decode(r.bytes.data(), r.y.data(), n);
  return r;
}

// ---- K-quants: bounds per 256-element super-block (docs/numerics.md, "K-quants") -------------
//
// Element i of sub-block j decodes on the grid y = dl_j * q - ml_j (affine types) or
// y = dl_j * q (symmetric), dl_j and ml_j the decoded sub-block step and min read from the block.
// The encoder's last pass rounds every element to the nearest point of that grid, so an element
// inside the grid's range errs by at most dl_j / 2. An element outside it (clamped, or in a
// sub-block whose step rounded to 0) errs by at most its distance from the search's grid plus the
// shift of that grid when its step and min were rounded to the stored 4-/6-/8-bit fractions of d
// and dmin:  e_i + Q * ds_j + dm_j.  e_i is bounded by the search itself: it never keeps a fit
// worse than the sub-block's first candidate, so w_i * e_i^p <= E_0 (p = 2, or 1 for Q2_K's
// absolute-error search), where E_0 is that candidate's weighted error, computed here from x.

struct KQuantGeometry {
  int group;         // elements per sub-block
  bool affine;       // y = dl q - ml (Q2_K, Q4_K, Q5_K) or y = dl q (Q3_K, Q6_K)
  int q_max;         // affine: codes 0..q_max; symmetric: codes -q_max..q_max-1
  int scale_levels;  // sub-block steps are stored as (rounded) multiples of max step / levels
  bool absolute_error;
};

KQuantGeometry GeometryOf(TensorType type) {
  switch (type) {
    case TensorType::kQ2_K:
      return {16, true, 3, 15, true};
    case TensorType::kQ3_K:
      return {16, false, 4, 32, false};
    case TensorType::kQ4_K:
      return {32, true, 15, 63, false};
    case TensorType::kQ5_K:
      return {32, true, 31, 63, false};
    default:  // Q6_K
      return {16, false, 32, 128, false};
  }
}

// Decoded steps (dl, signed for the symmetric types), mins (ml) and the super-block's d and dmin.
struct SuperBlockScales {
  double d = 0, dmin = 0;
  double dl[16] = {}, ml[16] = {};
  int code[16] = {};  // the stored sub-block scale code (signed for symmetric types)
};

SuperBlockScales ScalesOf(TensorType type, const uint8_t* bytes) {
  SuperBlockScales s;
  switch (type) {
    case TensorType::kQ2_K: {
      BlockQ2_K b;
      std::memcpy(&b, bytes, sizeof(b));
      s.d = F16ToF32(b.d), s.dmin = F16ToF32(b.dmin);
      for (int j = 0; j < 16; ++j) {
        s.code[j] = b.scales[j] & 15;
        s.dl[j] = s.d * s.code[j], s.ml[j] = s.dmin * (b.scales[j] >> 4);
      }
      break;
    }
    case TensorType::kQ3_K: {
      BlockQ3_K b;
      std::memcpy(&b, bytes, sizeof(b));
      s.d = F16ToF32(b.d);
      for (int j = 0; j < 16; ++j) {
        s.code[j] = UnpackScaleQ3_K(b.scales, j) - 32;
        s.dl[j] = s.d * s.code[j];
      }
      break;
    }
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: {
      // d, dmin and the 12 scale bytes lead both layouts.
      BlockQ4_K b;
      std::memcpy(&b, bytes, offsetof(BlockQ4_K, qs));
      s.d = F16ToF32(b.d), s.dmin = F16ToF32(b.dmin);
      for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        UnpackScaleMinK4(b.scales, j, sc, m);
        s.code[j] = sc;
        s.dl[j] = s.d * sc, s.ml[j] = s.dmin * m;
      }
      break;
    }
    default: {
      BlockQ6_K b;
      std::memcpy(&b, bytes, sizeof(b));
      s.d = F16ToF32(b.d);
      for (int j = 0; j < 16; ++j) {
        s.code[j] = b.scales[j];
        s.dl[j] = s.d * s.code[j];
      }
    }
  }
  return s;
}

// The bound of every element of one super-block x (256 values) encoded as `bytes`.
void KQuantBounds(TensorType type, const float* x, const uint8_t* bytes, Bound* out) {
  const KQuantGeometry g = GeometryOf(type);
  const SuperBlockScales s = ScalesOf(type, bytes);
  const double levels = g.scale_levels, q = g.q_max;
  // How far rounding a search step (min) to a stored fraction of d (dmin) moves it: half a level,
  // plus the F16 rounding of d times the largest code; a symmetric code clamped at levels - 1
  // (a step of the opposite sign as large as the largest) moves it by up to a whole level.
  const double d = std::abs(s.d);
  const double d_min_shift = s.dmin / 2 + levels * F16Error(s.dmin);
  constexpr double kSlack = 1.001;  // the F32 sums of E_0 and of the searches' errors
  for (int j = 0; j < kQK_K / g.group; ++j) {
    const float* xs = x + j * g.group;
    const int clamped_code = g.affine ? -1 : g.scale_levels - 1;
    const double step_shift = (s.code[j] == clamped_code ? d : d / 2) + levels * F16Error(d);
    // The search's first candidate and its error E_0 under the search's own weights.
    double lo = xs[0], hi = xs[0], amax = 0, signed_max = 0, sum_sq = 0;
    for (int i = 0; i < g.group; ++i) {
      lo = std::min<double>(lo, xs[i]), hi = std::max<double>(hi, xs[i]);
      sum_sq += static_cast<double>(xs[i]) * xs[i];
      if (std::abs(xs[i]) > amax) amax = std::abs(xs[i]), signed_max = xs[i];
    }
    const double rms = std::sqrt(sum_sq / g.group);
    auto weight = [&](double v) {
      if (type == TensorType::kQ2_K) return std::abs(v);
      if (g.affine) return rms + std::abs(v);
      return v * v;
    };
    double e0[32];
    if (g.affine) {
      lo = std::min(lo, 0.0);
      const double s0 = (hi - lo) / q;  // every value within half of it of the min-max grid
      for (int i = 0; i < g.group; ++i) e0[i] = s0 / 2;
    } else if (amax < 1e-15) {
      for (int i = 0; i < g.group; ++i) e0[i] = amax;
    } else {
      // Step |max| / q_max with the extreme on code -q_max: the opposite side stops at
      // q_max - 1, so values beyond it err by more than half a step.
      const double s0 = -signed_max / q;
      for (int i = 0; i < g.group; ++i) {
        const double c = std::clamp(std::nearbyint(xs[i] / s0), -q, q - 1);
        e0[i] = std::abs(xs[i] - c * s0);
      }
    }
    double big_e0 = 0;
    for (int i = 0; i < g.group; ++i) {
      big_e0 += weight(xs[i]) * (g.absolute_error ? e0[i] : e0[i] * e0[i]);
    }
    big_e0 *= kSlack;
    // The grid's range; a symmetric step is signed (codes -q..q-1 times a negative step reach
    // further up than down).
    const double dl = std::abs(s.dl[j]);
    const double lo_grid = g.affine ? -s.ml[j] : std::min(s.dl[j] * -q, s.dl[j] * (q - 1));
    const double hi_grid = g.affine ? dl * q - s.ml[j] : std::max(s.dl[j] * -q, s.dl[j] * (q - 1));
    for (int i = 0; i < g.group; ++i) {
      const double v = xs[i];
      const double rounding = 4 * q * kU * dl + 2 * kU * (std::abs(v) + s.ml[j]);
      if (dl > 0 && v >= lo_grid && v <= hi_grid) {
        out[j * g.group + i] = {dl / 2 + rounding, dl / 2};
        continue;
      }
      const double w = weight(v);
      const double e_search =
          w > 0 ? (g.absolute_error ? big_e0 / w : std::sqrt(big_e0 / w)) : INFINITY;
      out[j * g.group + i] = {e_search + q * step_shift + d_min_shift + rounding, 0};
    }
  }
}

bool IsKQuant(TensorType type) {
  return type == TensorType::kQ2_K || type == TensorType::kQ3_K || type == TensorType::kQ4_K ||
         type == TensorType::kQ5_K || type == TensorType::kQ6_K;
}

// Rows of k-quant super-blocks: each super-block at its own scale over eight decades, its
// sub-blocks (16 values) spread over a further decade and a half around it (the stored 4-/6-bit
// sub-block scales and their rounding matter), some sub-blocks shifted away from zero (the mins),
// a few constant or zero.
std::vector<float> RandomSuperBlocks(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> decade(-5, 3), spread(-1.5f, 0);
  std::vector<float> x(n);
  float super_scale = 1;
  for (int64_t b = 0; b < n; b += 16) {
    if (b % kQK_K == 0) super_scale = std::pow(10.0f, decade(rng));
    const float scale = super_scale * std::pow(10.0f, spread(rng));
    const int64_t sub = b / 16;
    const float shift = sub % 5 == 1 ? 3 * scale : sub % 7 == 3 ? -2 * scale : 0;
    const bool constant = sub % 37 == 5, zero = sub % 41 == 7;
    for (int i = 0; i < 16; ++i) {
      x[b + i] = zero ? 0 : constant ? scale : shift + scale * normal(rng);
    }
  }
  return x;
}

class KQuantRoundTripTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(KQuantRoundTripTest, ErrorWithinTheStepBound) {
  const TypeTraits& t = Traits(GetParam());
  ASSERT_NE(t.encode, nullptr);
  constexpr int64_t n = kQK_K * 1024;
  const std::vector<float> x = RandomSuperBlocks(n, 11 + static_cast<uint32_t>(t.type));
  const auto [bytes, y] = EncodeDecode(t, x);
  double worst_ratio = 0;
  double worst_outside = 0;  // max of error / bound over elements outside their grid
  std::vector<Bound> bounds(kQK_K);
  for (int64_t sb = 0; sb < n / kQK_K; ++sb) {
    KQuantBounds(t.type, &x[sb * kQK_K], &bytes[sb * t.block_bytes], bounds.data());
    for (int i = 0; i < kQK_K; ++i) {
      const int64_t e = sb * kQK_K + i;
      const double err = std::abs(static_cast<double>(x[e]) - y[e]);
      ASSERT_LE(err, bounds[i].value)
          << t.name << " element " << e << " (sub-block " << i / GeometryOf(t.type).group
          << "): x = " << x[e] << ", y = " << y[e];
      if (bounds[i].half_step > 0) {
        worst_ratio = std::max(worst_ratio, err / bounds[i].half_step);
      } else {
        worst_outside = std::max(worst_outside, err / bounds[i].value);
      }
    }
  }
  // Tight: some element inside its grid lands almost half a step from it.
  EXPECT_GT(worst_ratio, 0.95) << t.name;
  // The bound of clamped and zero-step elements, derived through the search, is no formality
  // either: some come within a factor of two of it (0.61 for Q2_K, 0.76..0.97 for the others).
  EXPECT_GT(worst_outside, 0.5) << t.name;
}

INSTANTIATE_TEST_SUITE_P(EveryKQuant, KQuantRoundTripTest,
                         ::testing::Values(TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K,
                                           TensorType::kQ5_K, TensorType::kQ6_K),
                         [](const auto& info) { return std::string(Traits(info.param).name); });

class RoundTripTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(RoundTripTest, ErrorWithinTheStepBound) {
  const TypeTraits& t = Traits(GetParam());
  ASSERT_NE(t.encode, nullptr);
  constexpr int64_t n = 32 * 4096;
  const std::vector<float> x = RandomRows(n, 7 + static_cast<uint32_t>(t.type));
  const auto [bytes, y] = EncodeDecode(t, x);
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
  const auto [bytes, y] = EncodeDecode(t, x);
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
    const bool covered =
        t.type == TensorType::kF32 || t.type == TensorType::kF16 || t.type == TensorType::kBF16 ||
        t.type == TensorType::kQ8_0 || t.type == TensorType::kQ4_0 || t.type == TensorType::kQ4_1 ||
        t.type == TensorType::kQ5_0 || t.type == TensorType::kQ5_1 || IsKQuant(t.type) ||
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
