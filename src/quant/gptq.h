// GPTQ (Frantar et al., 2022) onto a stock GGUF block format: one linear tensor at a time.
//
// For W: (C_out, C_in) and the Hessian H = 2·XᵀX/n: (C_in, C_in) of its calibration inputs
// (calib/hessian.h), GPTQ quantizes the columns of W one at a time and, after each, spreads that
// column's rounding error over the columns not yet quantized so that the layer's output error
// ‖(W − Ŵ)Xᵀ‖² stays small:
//
//   U = upper Cholesky factor of (H + λI)⁻¹            (calib/inverse_hessian.h)
//   for each column j (in order, or by decreasing diag(H) with act_order):
//     ŵ_j = round(w_j)                                  onto the format's grid, see below
//     e_j = (w_j − ŵ_j) / U[j][j]
//     w_k −= e_j · U[j][k]       for every later column k  (within a batch of `block_columns`
//                                columns at once; the rest in one matrix product per batch:
//                                the paper's "lazy batch updates")
//
// The grid is the target type's own (formats/block_grid.h): when the sweep reaches the first column
// of a format block (32 columns for Q4_0..Q8_0 and IQ4_NL, 256 for the k-quants and IQ4_XS; with
// act_order, the first of the block's columns the permuted sweep visits), that block's scales and
// mins are chosen by the type's weighted encoder on the current, error-updated weights, weighted by
// `importance` (an imatrix's per-column weights, or else diag(H)); each of the block's columns is
// then rounded to the nearest level of that fixed grid (with exact_scale, a one-scale type's step
// is the exactly optimal one instead). The result is the type's ordinary bytes.
//
// Rows are independent given U, so they are processed in tiles of rows on the thread pool; the
// result does not depend on the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "formats/types.h"

namespace shrink {

struct GptqOptions {
  double percdamp = 0.01;   // λ = percdamp · mean(diag H) (calib/inverse_hessian.h)
  int block_columns = 128;  // columns per lazy batch update
  bool act_order = false;   // visit columns by decreasing diag(H)
  int blas_threads = 1;     // OpenBLAS threads for the inverse-Hessian factorizations
  // One-scale types (Q4_0, Q5_0, IQ4_NL: formats/exact_scale.h): each block's step is the exactly
  // optimal one for the block's current, error-updated weights (FitScaleExactly under ggml's
  // importance weighting) instead of the reference encoder's search; other types ignore it.
  bool exact_scale = false;
};

struct GptqResult {
  std::vector<uint8_t> rows;  // C_out rows of RowBytes(type, C_in) bytes each
  double damp = 0;            // λ used
  int64_t dead_columns = 0;   // inputs that were always zero (their weights quantized as 0)
};

// W: (C_out, C_in) row-major F32, finite. H: (C_in, C_in) row-major F64 (GptqHessian).
// importance: empty (use diag(H)) or C_in finite values >= 0. `pool` runs the row tiles.
// Errors: `type` has no grid (F32, F16, BF16, Q8_K), C_in not a multiple of its block, shape
// mismatches, and the inverse-Hessian step's errors.
Result<GptqResult> GptqQuantize(std::span<const float> W, int64_t C_out, int64_t C_in,
                                std::span<const double> H, std::span<const float> importance,
                                TensorType type, const GptqOptions& options, ThreadPool& pool);

}  // namespace shrink
