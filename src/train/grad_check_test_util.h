// Central-difference gradient checks for the training ops' tests.
//
// A test reduces an op's output to a scalar L = Σ_i r_i · out_i (r random, fixed), evaluated in F64
// from the F32 outputs, sets dout = r, runs the backward op and compares each checked coordinate's
// analytic dL/dx_j with the numerical derivative
//   D_h = (L(x + h e_j) - L(x - h e_j)) / 2h.
// Its error has two parts, and the tolerance is their sum:
//   truncation: D_h - L' = L''' h² / 6 + O(h⁴). D_2h has four times that error, so
//               |D_2h - D_h| ≈ 3 · |L''' h² / 6| measures it from the data (Richardson); we allow
//               the whole |D_2h - D_h|, three times the estimate.
//   rounding:   each F32 output carries a relative error of about √K units of roundoff u = 2⁻²⁴
//               for a K-term F32 reduction (rounding errors of a sum add like a random walk;
//               Higham, "Accuracy and Stability", §3.1), so L carries at most κ u S with
//               S = Σ |r_i out_i| and κ = 4√K + 8 (a factor 4 on the random walk, plus the
//               few operations of the op itself). The difference of two such values over 2h
//               gives κ u S / h.
// A wrong backward op misses by the size of the gradient itself, far outside both terms.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace shrink::train::testing {

inline constexpr double kU = 0x1p-24;  // unit roundoff of F32

struct LossValue {
  double value = 0.0;    // L
  double abs_sum = 0.0;  // S = Σ |terms of L|, for the rounding bound
};

// L = Σ r_i out_i in F64.
inline LossValue Project(std::span<const float> out, std::span<const float> r) {
  LossValue v;
  for (size_t i = 0; i < out.size(); ++i) {
    v.value += double{out[i]} * r[i];
    v.abs_sum += std::fabs(double{out[i]} * r[i]);
  }
  return v;
}

inline std::vector<float> RandomVector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Checks up to `max_checks` coordinates of x (spread evenly) against `analytic`. `loss`
// re-evaluates L with the current x. K: the longest F32 reduction behind one output.
inline void ExpectGradient(const std::string& what, std::span<float> x,
                           std::span<const float> analytic, const std::function<LossValue()>& loss,
                           int64_t K, double h = 1e-2, size_t max_checks = 48) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  const double kappa = 4.0 * std::sqrt(static_cast<double>(K)) + 8.0;
  const size_t stride = std::max<size_t>(1, x.size() / max_checks);
  int failures = 0;
  for (size_t j = 0; j < x.size() && failures < 5; j += stride) {
    const float saved = x[j];
    auto at = [&](double step) {
      x[j] = static_cast<float>(saved + step);
      const double actual_step = double{x[j]} - saved;  // the F32 point actually evaluated
      LossValue v = loss();
      x[j] = saved;
      return std::pair{v, actual_step};
    };
    const auto [p1, s1] = at(h);
    const auto [m1, t1] = at(-h);
    const auto [p2, s2] = at(2 * h);
    const auto [m2, t2] = at(-2 * h);
    const double d_h = (p1.value - m1.value) / (s1 - t1);
    const double d_2h = (p2.value - m2.value) / (s2 - t2);
    const double rounding = kappa * kU * std::max(p1.abs_sum, m1.abs_sum) / h;
    const double tolerance = std::fabs(d_2h - d_h) + rounding;
    if (std::fabs(analytic[j] - d_h) > tolerance) ++failures;
    EXPECT_NEAR(analytic[j], d_h, tolerance)
        << what << " coordinate " << j << " (D_2h " << d_2h << ", rounding " << rounding << ")";
  }
}

}  // namespace shrink::train::testing
