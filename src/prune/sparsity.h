// Unstructured and N:M sparsity on the rows of a weight matrix W: (rows, cols).
//
// Each weight w_j of a row gets a score s_j = |w_j| · scale_j: scale_j = 1 for magnitude pruning,
// scale_j = ‖X_j‖₂ (the L2 norm of input column j over the calibration rows) for Wanda (Sun et al.
// 2023, "A Simple and Effective Pruning Approach for LLMs"). Scores are compared within one output
// row, as Wanda does:
//   * per-row sparsity s: the floor(s · cols) lowest-scoring weights of each row become 0 (Wanda's
//     int(cols · s));
//   * pattern N:M: in each group of M consecutive weights of a row the M − N lowest-scoring
//     become 0, so every group keeps exactly N.
// Ties are broken by column: of two equal scores the lower column counts as lower, so the result
// is one deterministic function of the row whatever the sort used.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shrink {

// kSparseGpt selects with its own score and updates the kept weights (prune/sparsegpt.h); PruneRow
// below is for magnitude and Wanda.
enum class PruneMethod { kMagnitude, kWanda, kSparseGpt };
std::string_view PruneMethodName(PruneMethod method);  // "magnitude", "wanda", "sparsegpt"

struct SparsityTarget {
  double sparsity = 0.0;  // per-row fraction removed, [0, 1) (unused with a pattern)
  int32_t n = 0;          // N:M pattern when m > 0: keep n of every m
  int32_t m = 0;

  bool pattern() const { return m > 0; }
  // The fraction of a row removed: sparsity, or 1 − n/m with a pattern.
  double removed_fraction() const;
  // "50%" or "2:4", for logs and metadata.
  std::string Describe() const;
};

// Errors (one line, naming the flag): sparsity outside [0, 1) or not finite.
Status CheckSparsity(double sparsity);
// "2:4" → {n 2, m 4}. Errors: not two positive integers "N:M", or N >= M.
Result<SparsityTarget> ParsePattern(std::string_view text);
// Error when a pattern's M does not divide a row of `cols` ("... rows of 576 are not whole groups
// of 5"), naming `tensor`.
Status CheckPatternFits(const SparsityTarget& target, int64_t cols, std::string_view tensor);

// What pruning one row did.
struct RowPruneStats {
  int64_t kept = 0;  // weights left (zero weights that were kept count as kept)
  // The largest score removed; -1 when nothing was removed. Per-row sparsity: the row's threshold
  // (every kept weight scores >= it, ties by column). A pattern: the largest over its groups.
  double threshold = -1.0;
};

// Zeroes the lowest-scoring weights of `row` (cols values) as `target` says. `scale` is empty
// (magnitude: every scale 1) or has cols values >= 0. `scratch` is reused between calls.
// REQUIRES: with a pattern, cols % m == 0.
RowPruneStats PruneRow(std::span<float> row, std::span<const float> scale,
                       const SparsityTarget& target, std::vector<int32_t>& scratch);

}  // namespace shrink
