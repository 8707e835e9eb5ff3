#include "kernels/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/reference.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;

// Gates with a vector tail (n not a multiple of any vector) and the extremes where exp overflows or
// 1 + tanh cancels completely.
std::vector<float> Gates(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> g(n);
  for (float& v : g) v = dist(rng);
  const float extremes[] = {-1000.0f, -120.0f, -88.5f, -30.0f, 30.0f, 88.5f, 120.0f, 1000.0f};
  for (size_t i = 0; i < std::size(extremes); ++i) g[i * 7] = extremes[i];
  return g;
}

// Every compiled target this CPU supports (Highway's Exp and Tanh per target).
HWY_BEFORE_TEST(ActivationTest);

TEST_P(ActivationTest, SwiGluMatchesReference) {
  const int64_t n = 1537;
  std::mt19937 rng(4);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> g = Gates(n, rng), u(n), fast(n), ref(n);
  for (float& v : u) v = dist(rng);
  SwiGlu(g.data(), u.data(), n, fast.data());
  reference::SwiGlu(g.data(), u.data(), n, ref.data());
  for (int64_t i = 0; i < n; ++i) {
    // exp (~2u), 1 + e, the division and the product (1u each): below 6u relative; 8u for margin.
    EXPECT_NEAR(fast[i], ref[i], 8 * kU * std::fabs(ref[i]) + 1e-37) << i;
  }
}

TEST_P(ActivationTest, SwiGluKnownValues) {
  const float g[2] = {0.0f, 1.0f}, u[2] = {5.0f, 2.0f};
  float out[2];
  SwiGlu(g, u, 2, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 2.0 / (1.0 + std::exp(-1.0)), 1e-6);
}

TEST_P(ActivationTest, GeluTanhGluMatchesReference) {
  const int64_t n = 2049;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> g = Gates(n, rng), u(n), fast(n), ref(n);
  for (float& v : u) v = dist(rng);
  GeluTanhGlu(g.data(), u.data(), n, fast.data());
  reference::GeluTanhGlu(g.data(), u.data(), n, ref.data());
  for (int64_t i = 0; i < n; ++i) {
    // The tanh argument carries a few u relative error, and tanh's own result errs by up to 4u
    // absolute (Highway's Tanh: 4 ULP of a value below 1); for g << 0, 1 + tanh(z) cancels, so that absolute error is scaled by |g·up|/2 and
    // not by the (tiny) result: bound 8u·(|ref| + |g·up|).
    EXPECT_NEAR(fast[i], ref[i], 8 * kU * (std::fabs(ref[i]) + std::fabs(g[i] * u[i])) + 1e-37)
        << i;
  }
}

TEST_P(ActivationTest, GeluTanhGluKnownValues) {
  // gelu(0) = 0; gelu(1) = 0.5 (1 + tanh(√(2/π)·1.044715)) = 0.8411919906 (tanh form).
  const float g[2] = {0.0f, 1.0f}, u[2] = {5.0f, 2.0f};
  float out[2];
  GatedActivation(Activation::kGeluTanh, g, u, 2, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 2 * 0.8411919906, 1e-6);
}

}  // namespace
}  // namespace shrink
