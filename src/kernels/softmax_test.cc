#include "kernels/softmax.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/reference.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;

// Every compiled target this CPU supports (Highway's Exp per target).
HWY_BEFORE_TEST(SoftmaxTest);

TEST_P(SoftmaxTest, MatchesReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 8.0f);
  for (int64_t n : {1, 2, 17, 513}) {
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    std::vector<float> fast = x, ref = x;
    Softmax(fast.data(), n);
    reference::Softmax(ref.data(), n);
    const float max = *std::max_element(x.begin(), x.end());
    double spread = 0.0;
    for (float v : x) spread = std::max(spread, static_cast<double>(max - v));
    for (int64_t i = 0; i < n; ++i) {
      // exp's argument x - max carries |x - max|·u of absolute error, exp itself ~2u, the F64 sum
      // of the F32 exponentials inherits the worst argument error (spread·u), the reciprocal and
      // final product 2u more.
      const double tol = ref[i] * ((max - x[i] + spread) * kU + 8 * kU) + 1e-37;
      EXPECT_NEAR(fast[i], ref[i], tol) << "n " << n << " i " << i;
    }
  }
}

TEST_P(SoftmaxTest, NegativeInfinityGetsZero) {
  std::vector<float> x = {0.0f, -INFINITY, 0.0f};
  Softmax(x.data(), 3);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_FLOAT_EQ(x[0], 0.5f);
}

}  // namespace
}  // namespace shrink
