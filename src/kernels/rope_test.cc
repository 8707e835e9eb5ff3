#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/reference.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;

void CompareWithReference(RopeOrdering ordering, int64_t rope_dims) {
  RopeParams p{.n_heads = 3,
               .head_dim = 64,
               .rope_dims = rope_dims,
               .base = 100000.0f,
               .ordering = ordering};
  const int64_t T = 7, pos0 = 505;
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(T * p.n_heads * p.head_dim);
  for (float& v : x) v = dist(rng);
  std::vector<float> fast = x, ref = x;
  Rope(p, T, pos0, fast.data());
  reference::Rope(p, T, pos0, ref.data());
  const double s = std::pow(static_cast<double>(p.base), -2.0 / rope_dims);
  const int64_t half = rope_dims / 2;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const int64_t off = (t * p.n_heads + h) * p.head_dim;
      for (int64_t i = 0; i < p.head_dim; ++i) {
        if (i >= rope_dims) {
          EXPECT_EQ(fast[off + i], x[off + i]) << "dims past rope_dims must pass through";
          continue;
        }
        const int64_t j = ordering == RopeOrdering::kAdjacentPairs ? i / 2 : i % half;
        const int64_t i0 = ordering == RopeOrdering::kAdjacentPairs ? 2 * j : j;
        const int64_t i1 = ordering == RopeOrdering::kAdjacentPairs ? 2 * j + 1 : j + half;
        const double ab = std::fabs(x[off + i0]) + std::fabs(x[off + i1]);
        // The fast angle is pos * s^j built by j F32 multiplications from an F32 s (pow: <= 2u), so
        // its relative error is below (j + 3)u; an angle error d moves the output by at most
        // |a|+|b| times d. cos/sin and the two products/sum add about 4u of |a|+|b|.
        const double theta = static_cast<double>(pos0 + t) * std::pow(s, j);
        const double tol = ab * ((j + 3) * kU * theta + 6 * kU) + 1e-30;
        EXPECT_NEAR(fast[off + i], ref[off + i], tol) << "t " << t << " h " << h << " i " << i;
      }
    }
  }
}

TEST(RopeTest, AdjacentPairsMatchesReference) {
  CompareWithReference(RopeOrdering::kAdjacentPairs, 64);
}
TEST(RopeTest, HalvesMatchesReference) { CompareWithReference(RopeOrdering::kHalves, 64); }
TEST(RopeTest, PartialRotation) { CompareWithReference(RopeOrdering::kHalves, 32); }

TEST(RopeTest, OrderingsPairDifferentElements) {
  // At position 1 with one pair-rotation visible: adjacent rotates (x0, x1), halves rotates (x0,
  // x2).
  RopeParams p{.n_heads = 1, .head_dim = 4, .rope_dims = 4, .base = 10000.0f};
  std::vector<float> a = {1, 0, 0, 0};
  Rope(p, 1, 1, a.data());
  EXPECT_NEAR(a[1], std::sin(1.0), 1e-6);
  EXPECT_EQ(a[2], 0.0f);
  p.ordering = RopeOrdering::kHalves;
  std::vector<float> b = {1, 0, 0, 0};
  Rope(p, 1, 1, b.data());
  EXPECT_EQ(b[1], 0.0f);
  EXPECT_NEAR(b[2], std::sin(1.0), 1e-6);
}

}  // namespace
}  // namespace shrink
