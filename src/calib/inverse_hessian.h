// The inverse-Hessian step shared by GPTQ (quant/gptq.h) and SparseGPT: from the Hessian of a
// linear layer's reconstruction loss to the upper Cholesky factor of its damped inverse.
//
// For a linear tensor W: (C_out, C_in) and calibration inputs X: (n, C_in), both methods minimize
// ‖(W − Ŵ)Xᵀ‖² row by row, whose Hessian is H = 2·XᵀX / n: (C_in, C_in) (calib/hessian.h,
// GptqHessian). They visit the columns of W in order and need, for column j, the row j of the
// Cholesky factor of the inverse of H restricted to the columns not yet visited; the upper
// factor U of H⁻¹ = UᵀU gives all of them at once (the GPTQ paper, section "Cholesky
// reformulation"). This step computes U as the GPTQ reference does:
//
//   dead columns   i with H[i][i] == 0 (an input that is always zero): H[i][i] := 1, and the caller
//                  must zero column i of W (its value cannot change the output, and zeroing keeps
//                  it from spreading error through the feedback);
//   damping        λ = percdamp · mean(diag H) (after the dead fix), H := H + λ·I, which makes H
//                  positive definite for any percdamp > 0 and a non-degenerate diagonal;
//   factor         H = LLᵀ (LAPACK dpotrf), H⁻¹ from L (dpotri), H⁻¹ = UᵀU (dpotrf, upper).
//
// If a factorization fails (H not numerically positive definite: rank-deficient inputs with a
// damping too small for F64), λ is multiplied by 10 and the step retried, up to
// `max_damp_retries` times; the λ finally used is reported.
//
// Everything is F64 (Hessian entries span many orders of magnitude; numerics.md). The LAPACK calls
// run on OpenBLAS with `threads` threads (kernels/blas_threads.h), so call it while no kernel runs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"

namespace shrink {

struct InverseHessianOptions {
  double percdamp = 0.01;    // GPTQ's default: 1% of the mean diagonal. REQUIRES: > 0
  int max_damp_retries = 4;  // λ ×10 per retry when a Cholesky factorization fails
  int threads = 1;           // OpenBLAS threads for the factorizations
};

struct InverseHessian {
  int64_t cols = 0;           // C_in
  std::vector<double> upper;  // U: (C_in, C_in) row-major, upper-triangular (zeros below the
                              // diagonal), positive diagonal, UᵀU = (H' + λI)⁻¹ where H' is H
                              // with dead diagonal entries set to 1
  std::vector<uint8_t> dead;  // (C_in): 1 where diag(H) == 0; the caller zeroes those W columns
  double damp = 0;            // λ actually added to the diagonal
};

// H: (C_in, C_in) row-major, symmetric (only the lower triangle is read), finite, with a
// non-negative diagonal. Errors: a shape mismatch, a non-finite or negative diagonal entry, an
// all-dead Hessian (no input ever non-zero), or a factorization that fails after every retry —
// each naming the column or λ involved.
Result<InverseHessian> InverseHessianFactor(std::span<const double> H, int64_t C_in,
                                            const InverseHessianOptions& options);

}  // namespace shrink
