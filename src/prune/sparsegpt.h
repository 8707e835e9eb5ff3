// SparseGPT (Frantar & Alistarh, 2023, "SparseGPT: Massive Language Models Can Be Accurately
// Pruned in One-Shot") on one linear tensor.
//
// For W: (C_out, C_in) and the Hessian H = 2·XᵀX/n: (C_in, C_in) of its calibration inputs
// (calib/hessian.h), SparseGPT removes weights so that the layer's output error ‖(W − Ŵ)Xᵀ‖² stays
// small: the optimal-brain-surgeon (OBS) update of the weights still kept compensates each removed
// weight. It shares GPTQ's column sweep (quant/gptq.h), with "round" replaced by "keep or zero":
//
//   U = upper Cholesky factor of (H + λI)⁻¹            (calib/inverse_hessian.h, shared with GPTQ)
//   for each block of `block_columns` columns [i1, i2), in order:
//     mask: per row, the weights of the block with the lowest OBS error w_j² / U[j][j]² (on the
//           current, error-updated weights) are chosen for removal (see "masks" below)
//     for each column j of the block:
//       ŵ_j = 0 where masked, else w_j
//       e_j = (w_j − ŵ_j) / U[j][j]
//       w_k −= e_j · U[j][k]   for the later columns k of the block; the columns past the block
//                              in one matrix product per block (GPTQ's lazy batch update)
//
// Masks. w²/[H⁻¹]_jj is the OBS loss of removing w_j alone; U[j][j]² is [H⁻¹]_jj restricted to the
// columns not yet visited, the quantity the sweep needs (the SparseGPT reference code uses it).
//   * per-row sparsity s: row r removes exactly floor(s·C_in) weights (the reference thresholds a
//     block over all rows at once, so its rows differ in sparsity; per row keeps the "exactly s
//     per output row" contract magnitude and Wanda have here, prune/sparsity.h). The choice is
//     adaptive: made when the sweep reaches a block, on weights that absorbed the earlier blocks'
//     updates. How a row's removals spread over its blocks (SparseGptMaskScope):
//       kBlock  floor(s·i2) − floor(s·i1) in block [i1, i2): every block of the row loses the
//               same share, like an N:M pattern with M = block_columns;
//       kRow    at block [i1, i2) the row ranks all its columns not yet visited, [i1, C_in), and
//               removes those of the block among its r lowest, r = what the row has still to
//               remove; the last block takes whatever is left. A block whose weights all score
//               high keeps them, as Wanda's per-row choice would.
//   * pattern N:M: at the first column of each group of M, the M − N lowest-scoring weights of the
//     group (on the current weights) are removed, so every group keeps exactly N. Blocks hold
//     whole groups (block_columns is rounded down to a multiple of M, at least M).
//   Ties: of two equal scores the lower column is removed first. Dead inputs (diag H = 0, never
//   active) score 0: removing them costs nothing on the calibration data.
//
// Sparsity 0 removes nothing, and then every error is 0 and W comes back unchanged. Kept weights
// may change (that is the update); removed ones are exactly 0. Rows are independent given U, so
// they run in tiles on the thread pool; the result does not depend on the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "prune/sparsity.h"

namespace shrink {

// How a per-row sparsity spreads over the blocks of a row (see "Masks" above); N:M ignores it.
enum class SparseGptMaskScope {
  kBlock,  // each block of block_columns loses the same share of the row
  kRow,    // the row's budget, spent adaptively where the remaining columns score lowest
};

struct SparseGptOptions {
  double percdamp = 0.01;   // λ = percdamp · mean(diag H) (calib/inverse_hessian.h)
  int block_columns = 128;  // columns per mask block and lazy batch update (the paper's Bs)
  SparseGptMaskScope mask_scope = SparseGptMaskScope::kBlock;
  int blas_threads = 1;  // OpenBLAS threads for the inverse-Hessian factorizations
};

struct SparseGptResult {
  std::vector<float> weights;  // Ŵ: (C_out, C_in) row-major, removed weights exactly 0
  std::vector<uint8_t> mask;   // (C_out, C_in): 1 where the weight was removed
  int64_t removed = 0;         // weights removed (Σ mask)
  double damp = 0;             // λ used
  int64_t dead_columns = 0;    // inputs that were always zero
};

// W: (C_out, C_in) row-major F32, finite. H: (C_in, C_in) row-major F64 (GptqHessian).
// `target`: CheckSparsity-valid sparsity, or a pattern whose M divides C_in. `pool` runs the row
// tiles. Errors: shape mismatches, a pattern that does not fit, block_columns < 1, and the
// inverse-Hessian step's errors.
Result<SparseGptResult> SparseGptPrune(std::span<const float> W, int64_t C_out, int64_t C_in,
                                       std::span<const double> H, const SparsityTarget& target,
                                       const SparseGptOptions& options, ThreadPool& pool);

}  // namespace shrink
