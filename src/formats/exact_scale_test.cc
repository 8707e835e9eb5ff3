#include "formats/exact_scale.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/float_types.h"
#include "formats/iq_quants.h"
#include "formats/scale_search.h"
#include "formats/types.h"

namespace shrink {
namespace {

// sum_i w_i (x_i - s L[c_i])^2 with nearest codes, in double.
double WeightedError(const std::vector<float>& x, const std::vector<float>& w, float s,
                     std::span<const float> levels) {
  double e = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double y = s == 0 ? 0.0 : double(s) * levels[NearestLevel(x[i] / s, levels)];
    e += w[i] * (x[i] - y) * (x[i] - y);
  }
  return e;
}

std::vector<float> Q4_0Levels() {
  std::vector<float> l;
  for (int q = -8; q <= 7; ++q) l.push_back(float(q));
  return l;
}

std::vector<float> Iq4nlLevels() {
  std::vector<float> l(std::begin(kIq4nlValues), std::end(kIq4nlValues));
  return l;
}

TEST(ExactScaleTest, NearestLevelTiesGoLow) {
  const std::vector<float> l = {-2, 0, 1, 5};
  EXPECT_EQ(NearestLevel(-9, l), 0);
  EXPECT_EQ(NearestLevel(-1, l), 0);  // tie between -2 and 0
  EXPECT_EQ(NearestLevel(0.4f, l), 1);
  EXPECT_EQ(NearestLevel(3, l), 2);  // tie between 1 and 5
  EXPECT_EQ(NearestLevel(7, l), 3);
}

TEST(ExactScaleTest, RecoversAnExactGrid) {
  // Every value on the grid 0.37 * L: the error at s = 0.37 is 0, so the optimum is 0.
  const std::vector<float> levels = Iq4nlLevels();
  std::vector<float> x, w(32, 1.0f);
  for (int i = 0; i < 32; ++i) x.push_back(0.37f * levels[(i * 7) % 16]);
  const float s = FitScaleExactly(x.data(), w.data(), 32, levels);
  EXPECT_NEAR(WeightedError(x, w, s, levels), 0.0, 1e-9);
}

TEST(ExactScaleTest, AllZeroGivesZero) {
  const std::vector<float> x(32, 0.0f), w(32, 1.0f);
  EXPECT_EQ(FitScaleExactly(x.data(), w.data(), 32, Q4_0Levels()), 0.0f);
}

// The sweep's optimum is at least as good as a dense scan of 20,001 steps of both signs and as
// ggml's 19-candidate search (scale_search.h) on the same weights; the dense scan bounds it from
// above, so equality within float rounding of the sums (1e-6 relative) is the expectation.
TEST(ExactScaleTest, BeatsDenseScanAndGgmlSearch) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.1f, 2.0f);
  for (const std::vector<float>& levels : {Q4_0Levels(), Iq4nlLevels()}) {
    double sum_exact = 0, sum_ggml = 0;
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<float> x(32), w(32);
      for (float& v : x) v = normal(rng) * (trial % 3 == 0 ? 3.0f : 1.0f);
      for (float& v : w) v = uniform(rng);
      const float s = FitScaleExactly(x.data(), w.data(), 32, levels);
      const double exact = WeightedError(x, w, s, levels);
      float amax = 0;
      for (float v : x) amax = std::max(amax, std::abs(v));
      const float top = std::max(std::abs(levels.front()), std::abs(levels.back()));
      double scan = 1e300;
      for (int k = -10000; k <= 10000; ++k) {
        if (k == 0) continue;
        scan = std::min(scan, WeightedError(x, w, 2 * amax / top * k / 10000.0f, levels));
      }
      ASSERT_LE(exact, scan * (1 + 1e-6) + 1e-12) << "trial " << trial;
      sum_exact += exact;
      if (levels.size() == 16 && levels[0] == -8) {
        int8_t codes[32];
        const float g = FitSymmetricScale(x.data(), w.data(), 32, 8, codes);
        sum_ggml += WeightedError(x, w, g, levels);
      }
    }
    if (sum_ggml > 0) {
      EXPECT_LT(sum_exact, sum_ggml);
    }
  }
}

// Rows of a one-scale type encoded with the exact step: every element decodes to the level nearest
// it under the block's stored step (checked against every level), and the importance-weighted error
// summed over the rows is below the reference weighted encoder's (ggml's 19-step search; IQ4_NL's
// reference weighs by the block's mean square rather than the row's, so only the sums compare).
TEST(ExactScaleTest, RowEncoderRoundsToNearestAndBeatsTheReference) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.1f, 3.0f);
  for (const TensorType type : {TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kIQ4_NL}) {
    const TypeTraits& t = Traits(type);
    ASSERT_TRUE(HasExactScaleEncoder(t)) << t.name;
    constexpr int64_t n = 1024;
    const std::vector<float> levels = type == TensorType::kIQ4_NL ? Iq4nlLevels() : [&] {
      std::vector<float> l;
      const int half = type == TensorType::kQ4_0 ? 8 : 16;
      for (int q = -half; q < half; ++q) l.push_back(float(q));
      return l;
    }();
    double sum_exact = 0, sum_reference = 0;
    for (int row = 0; row < 40; ++row) {
      std::vector<float> x(n), imp(n), w(n), y(n);
      for (float& v : x) v = normal(rng) * (row % 4 == 0 ? 0.01f : 1.0f);
      for (float& v : imp) v = uniform(rng);
      double ms = 0;
      for (float v : x) ms += double(v) * v;
      ImportanceWeights(x.data(), imp.data(), n, static_cast<float>(ms / n), w.data());
      std::vector<uint8_t> bytes(*RowBytes(type, n));
      EncodeRowExactScale(t, x.data(), bytes.data(), n, imp.data());
      t.decode(bytes.data(), y.data(), n);
      for (int64_t b = 0; b < n / 32; ++b) {
        uint16_t d_bits;  // every one-scale block starts with its F16 step
        std::memcpy(&d_bits, bytes.data() + b * t.block_bytes, 2);
        const float d = F16ToF32(d_bits);
        for (int64_t i = b * 32; i < b * 32 + 32; ++i) {
          for (float l : levels) {
            ASSERT_LE(std::abs(x[i] - y[i]), std::abs(x[i] - d * l) * (1 + 1e-6f))
                << t.name << " element " << i;
          }
        }
      }
      for (int64_t i = 0; i < n; ++i) sum_exact += w[i] * (x[i] - y[i]) * (x[i] - y[i]);
      t.encode_weighted(x.data(), bytes.data(), n, imp.data());
      t.decode(bytes.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) sum_reference += w[i] * (x[i] - y[i]) * (x[i] - y[i]);
    }
    EXPECT_LT(sum_exact, sum_reference) << t.name;
  }
}

}  // namespace
}  // namespace shrink
