// The inverse-Hessian step against a direct numerical inverse (Gauss-Jordan in long double).
#include "calib/inverse_hessian.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace shrink {
namespace {

// Direct inverse by Gauss-Jordan with partial pivoting, in long double: an implementation
// independent of LAPACK's Cholesky route.
std::vector<long double> DirectInverse(const std::vector<double>& a, int C) {
  std::vector<long double> m(a.begin(), a.end());
  std::vector<long double> inv(static_cast<size_t>(C) * C, 0.0L);
  for (int i = 0; i < C; ++i) inv[static_cast<size_t>(i) * C + i] = 1.0L;
  for (int col = 0; col < C; ++col) {
    int pivot = col;
    for (int r = col + 1; r < C; ++r) {
      if (std::fabs(m[r * C + col]) > std::fabs(m[pivot * C + col])) pivot = r;
    }
    for (int k = 0; k < C; ++k) {
      std::swap(m[col * C + k], m[pivot * C + k]);
      std::swap(inv[col * C + k], inv[pivot * C + k]);
    }
    const long double p = m[col * C + col];
    for (int k = 0; k < C; ++k) {
      m[col * C + k] /= p;
      inv[col * C + k] /= p;
    }
    for (int r = 0; r < C; ++r) {
      if (r == col) continue;
      const long double f = m[r * C + col];
      for (int k = 0; k < C; ++k) {
        m[r * C + k] -= f * m[col * C + k];
        inv[r * C + k] -= f * inv[col * C + k];
      }
    }
  }
  return inv;
}

// H = 2·XᵀX/n of correlated random inputs (each column mixes its neighbour), with column `dead`
// always zero.
std::vector<double> RandomHessian(int n, int C, int dead) {
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  std::vector<double> x(static_cast<size_t>(n) * C);
  for (int t = 0; t < n; ++t) {
    double prev = 0;
    for (int i = 0; i < C; ++i) {
      const double v = normal(rng) + 0.8 * prev;
      prev = v;
      x[static_cast<size_t>(t) * C + i] = i == dead ? 0.0 : v;
    }
  }
  std::vector<double> H(static_cast<size_t>(C) * C, 0.0);
  for (int i = 0; i < C; ++i) {
    for (int j = 0; j < C; ++j) {
      double s = 0;
      for (int t = 0; t < n; ++t) s += x[t * C + i] * x[t * C + j];
      H[i * C + j] = 2.0 * s / n;
    }
  }
  return H;
}

TEST(InverseHessianTest, UpperFactorOfDampedInverseMatchesDirectInverse) {
  constexpr int C = 12;
  constexpr int kDead = 5;
  const std::vector<double> H = RandomHessian(/*n=*/64, C, kDead);
  InverseHessianOptions options;
  options.percdamp = 0.01;
  auto result = InverseHessianFactor(H, C, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  const InverseHessian& ih = *result;

  // Expected λ and the matrix it damps, built here independently of the implementation.
  std::vector<double> damped = H;
  damped[kDead * C + kDead] = 1.0;
  double diag_sum = 0;
  for (int i = 0; i < C; ++i) diag_sum += damped[i * C + i];
  const double damp = 0.01 * diag_sum / C;
  EXPECT_NEAR(ih.damp, damp, 1e-15 * damp);
  for (int i = 0; i < C; ++i) damped[i * C + i] += damp;
  const std::vector<long double> inv = DirectInverse(damped, C);

  for (int i = 0; i < C; ++i) EXPECT_EQ(ih.dead[i], i == kDead ? 1 : 0) << i;
  long double max_inv = 0;
  for (long double v : inv) max_inv = std::max(max_inv, std::fabs(v));
  // The damped matrix has λ_min >= λ and λ_max <= trace, so κ <= 100·C here; the three
  // factorizations lose O(C·κ·eps) relative to the largest entry: 12·1200·2.2e-16 ≈ 3e-12.
  const double tol = 1e-10 * static_cast<double>(max_inv);
  for (int i = 0; i < C; ++i) {
    EXPECT_GT(ih.upper[i * C + i], 0.0);
    for (int j = 0; j < C; ++j) {
      if (j < i) {
        EXPECT_EQ(ih.upper[i * C + j], 0.0) << "below the diagonal at " << i << "," << j;
      }
      double utu = 0;
      for (int k = 0; k < C; ++k) utu += ih.upper[k * C + i] * ih.upper[k * C + j];
      EXPECT_NEAR(utu, static_cast<double>(inv[i * C + j]), tol) << i << "," << j;
    }
  }
}

TEST(InverseHessianTest, IndefiniteMatrixRetriesWithMoreDamping) {
  // Eigenvalues -2 and 4, mean diagonal 1: λ = 0.01, 0.1 and 1 leave it indefinite (smallest
  // eigenvalue -1.99, -1.9, -1, none near 0 where rounding decides); λ = 10 makes it positive
  // definite.
  const std::vector<double> H = {1, 3, 3, 1};
  auto result = InverseHessianFactor(H, 2, {.percdamp = 0.01, .max_damp_retries = 4});
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_NEAR(result->damp, 10.0, 1e-12);
  auto exhausted = InverseHessianFactor(H, 2, {.percdamp = 0.01, .max_damp_retries = 1});
  ASSERT_FALSE(exhausted.ok());
  EXPECT_NE(exhausted.status().message().find("not positive definite"), std::string::npos);
}

TEST(InverseHessianTest, BadInputIsAnError) {
  EXPECT_FALSE(InverseHessianFactor(std::vector<double>(5, 1.0), 2, {}).ok());
  auto negative = InverseHessianFactor(std::vector<double>{1, 0, 0, -1}, 2, {});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("diagonal entry 1"), std::string::npos);
  auto all_dead = InverseHessianFactor(std::vector<double>(4, 0.0), 2, {});
  ASSERT_FALSE(all_dead.ok());
  EXPECT_NE(all_dead.status().message().find("always zero"), std::string::npos);
}

}  // namespace
}  // namespace shrink
