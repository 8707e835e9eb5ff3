// Size budgets (quantize --target-size 60MB / --target-bpw 3.0): the type of every matrix chosen
// to minimise the total sensitivity proxy (quant/sensitivity.h) under a byte budget.
//
// The problem is a multiple-choice knapsack: each matrix i takes exactly one candidate c (bytes
// b_ic, loss l_ic), minimise Σ l over Σ b ≤ B. SolveBudget solves it in two steps:
//   1. Lagrangian sweep: for a price λ ≥ 0 on bytes, each matrix independently takes the candidate
//      minimising l + λ·b (ties: fewer bytes), which lands on the lower convex hull of its
//      (bytes, loss) points. Total bytes fall as λ rises, so a bisection on log λ finds the
//      cheapest price whose choice fits B. That choice is optimal for its own byte total (no
//      choice of fewer or equal bytes has less loss), but may leave part of B unused, because
//      the hull steps are discrete.
//   2. Greedy fill: while some single-matrix change to a candidate with more bytes still fits
//      and lowers the loss, apply the one with the largest loss drop per added byte (any
//      candidate, not only hull points, so off-hull types can fill the last gap).
// The result is within one matrix's step of the true optimum; with ~200 matrices and a dozen
// candidates this takes well under a millisecond, so no DP over byte units is needed.
//
// 1-D tensors (norms) stay F32 as in every mix and count as fixed bytes. A budget below the
// smallest possible total (every matrix at its fewest bytes) is an error naming that minimum; a
// budget above the total where every matrix has its least loss takes that choice and says so.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "quant/mix.h"
#include "quant/plan.h"
#include "quant/sensitivity.h"

namespace shrink {

// "60MB" (10^6), "60MiB" (2^20), "1.5GB", "1GiB", "500kB", "123456" or "123456B" (bytes), case-
// insensitive; the value must be a positive finite number. Error names the text and the forms.
Result<uint64_t> ParseByteSize(std::string_view text);

struct BudgetSolution {
  std::vector<int> choice;  // per sensitivity, an index into its candidates
  uint64_t bytes = 0;       // Σ bytes of the chosen candidates
  double loss = 0.0;        // Σ proxy loss of the chosen candidates
  double lambda = 0.0;      // the price of step 1 (0 when the budget holds every least-loss choice)
  uint64_t min_bytes = 0;   // every matrix at its fewest bytes
  uint64_t max_bytes = 0;   // every matrix at its least loss: more budget buys nothing
  bool capped = false;      // budget ≥ max_bytes: every matrix took its least-loss candidate
};

// Chooses one candidate per entry of `tensors` with Σ bytes ≤ budget_bytes (see the header).
// REQUIRES: every entry has at least one candidate.
// Error: budget_bytes < min_bytes: "... needs at least N bytes ...".
Result<BudgetSolution> SolveBudget(std::span<const TensorSensitivity> tensors,
                                   uint64_t budget_bytes);

// The mix a budget plan reports (name "budget", no rules) with `base` the type holding the most
// weights, whose llama.cpp file type (general.file_type) it borrows; a base with no mix of its own
// name gets LLAMA_FTYPE_GUESSED (1024), as llama.cpp marks files it cannot name.
QuantMix BudgetMix(TensorType base);

// The plan for `tensors` (output order) under `solution`: 1-D tensors F32 (TensorPlan::kVector),
// every matrix the candidate the solution chose for it (TensorPlan::kBudget, with its proxy
// loss). `sensitivities` holds one entry per matrix of `tensors`, in any order. The plan points
// at `mix`, which must outlive it; `mix` is set to BudgetMix of the plan's dominant type.
// REQUIRES: solution came from SolveBudget(sensitivities, ...).
QuantPlan BudgetPlan(const Config& config, std::span<const TensorView* const> tensors,
                     std::span<const TensorSensitivity> sensitivities,
                     const BudgetSolution& solution, bool with_imatrix, QuantMix& mix);

}  // namespace shrink
