#include "calib/inverse_hessian.h"

#include <lapacke.h>

#include <climits>
#include <cmath>

#include "kernels/blas_threads.h"

namespace shrink {
namespace {

// Cholesky of H + λI into H⁻¹'s upper factor, in place in `a` (the damped matrix on entry).
// Returns LAPACK's info of the first failing call (0 on success).
lapack_int FactorDampedInverse(std::vector<double>& a, int C) {
  // The buffer is row-major; LAPACK is called in column-major on it, which reads the transpose.
  // The input is symmetric, so that is the same matrix, and column-major 'U' is row-major lower:
  // no LAPACKE transposition copies (which cost as much as the factorizations).
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', C, a.data(), C);  // H = LLᵀ, row-major L
  if (info != 0) return info;
  info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', C, a.data(), C);  // H⁻¹ in the row-major lower half
  if (info != 0) return info;
  // Mirror H⁻¹ into the upper half so the buffer is the full symmetric matrix again.
  for (int i = 0; i < C; ++i) {
    for (int j = i + 1; j < C; ++j) {
      a[static_cast<size_t>(i) * C + j] = a[static_cast<size_t>(j) * C + i];
    }
  }
  // Column-major 'L': H⁻¹ = MMᵀ with M column-major lower, i.e. Mᵀ row-major upper: U = Mᵀ and
  // H⁻¹ = UᵀU.
  info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', C, a.data(), C);
  if (info != 0) return info;
  for (int i = 1; i < C; ++i) {
    for (int j = 0; j < i; ++j) a[static_cast<size_t>(i) * C + j] = 0.0;
  }
  return 0;
}

}  // namespace

Result<InverseHessian> InverseHessianFactor(std::span<const double> H, int64_t C_in,
                                            const InverseHessianOptions& options) {
  if (C_in < 1 || C_in > INT_MAX || static_cast<int64_t>(H.size()) != C_in * C_in) {
    return Status::Errorf("inverse Hessian: {} entries for {} columns (expected {}²)", H.size(),
                          C_in, C_in);
  }
  if (!(options.percdamp > 0)) {
    return Status::Errorf("inverse Hessian: damping {} must be positive", options.percdamp);
  }
  const int C = static_cast<int>(C_in);
  InverseHessian out;
  out.cols = C_in;
  out.dead.assign(static_cast<size_t>(C), 0);

  std::vector<double> base(H.begin(), H.end());
  double diag_sum = 0;
  int64_t n_dead = 0;
  for (int i = 0; i < C; ++i) {
    double& d = base[static_cast<size_t>(i) * C + i];
    if (!std::isfinite(d) || d < 0) {
      return Status::Errorf("inverse Hessian: diagonal entry {} is {} (expected finite, >= 0)", i,
                            d);
    }
    if (d == 0) {
      // GPTQ's fix: a never-active input gets a unit diagonal and its row/column stay zero (they
      // are, since XᵀX has a zero row wherever its diagonal is zero).
      d = 1;
      out.dead[static_cast<size_t>(i)] = 1;
      ++n_dead;
    }
    diag_sum += d;
  }
  if (n_dead == C) {
    return Status::Errorf("inverse Hessian: all {} inputs are always zero", C);
  }

  ScopedBlasThreads blas_threads(options.threads);
  double damp = options.percdamp * diag_sum / C;
  for (int attempt = 0; attempt <= options.max_damp_retries; ++attempt, damp *= 10) {
    std::vector<double> a = base;
    for (int i = 0; i < C; ++i) a[static_cast<size_t>(i) * C + i] += damp;
    const lapack_int info = FactorDampedInverse(a, C);
    if (info == 0) {
      out.upper = std::move(a);
      out.damp = damp;
      return out;
    }
    if (info < 0) {
      return Status::Errorf("inverse Hessian: LAPACK rejected argument {}", -info);
    }
  }
  return Status::Errorf(
      "inverse Hessian: not positive definite even with damping λ = {} ({} retries)", damp / 10,
      options.max_damp_retries);
}

}  // namespace shrink
