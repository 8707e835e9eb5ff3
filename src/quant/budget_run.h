// The size-budget path of `shrink quantize --target-size / --target-bpw` (quant/budget.h) from a
// loaded model to a plan: importance per matrix (an imatrix, checked against the model before any
// work), the sensitivity proxy of every matrix and candidate (quant/sensitivity.h), the knapsack,
// and the plan the quantized GGUF is written from.
//
// What the budget counts: --target-bpw B means tensor data of at most B/8 bytes per weight over
// every weight of the model (norms included, as FormatPlanSummary's bits per weight); --target-size
// N means a whole file (header, metadata, tensor data, alignment) of at most N bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/imatrix_file.h"
#include "model/config.h"
#include "quant/budget.h"
#include "quant/plan.h"
#include "quant/sensitivity.h"

namespace shrink {

struct BudgetRequest {
  uint64_t target_file_bytes = 0;  // --target-size (0: not given)
  double target_bpw = 0.0;         // --target-bpw (0: not given); exactly one of the two is set
  const ImatrixData* imatrix = nullptr;  // --imatrix, or null: uniform weights
  std::string imatrix_path;              // for messages
  SensitivityOptions sensitivity;
  // Per tensor role (tensor_table.h name: "attn_k"), a factor on the proxy: the proxy measures
  // each linear's own output error, and roles differ in how much of it reaches the logits
  // (bench/budget_sensitivity_rank.sh measures it). Roles not listed: 1.
  std::vector<std::pair<std::string, double>> role_scales;
  // The file size of a plan (the writer's QuantizedFileSize with the output's metadata); used with
  // target_file_bytes.
  std::function<Result<uint64_t>(const QuantPlan&)> file_size;
};

struct BudgetOutcome {
  std::unique_ptr<QuantMix> mix;                 // what plan.mix points at
  QuantPlan plan;                                // kVector and kBudget entries
  std::vector<TensorSensitivity> sensitivities;  // one per matrix, plan order
  BudgetSolution solution;
  uint64_t matrix_budget = 0;  // the bytes the matrices were given (budget − fixed − overhead)
  uint64_t fixed_bytes = 0;    // the 1-D tensors (F32)
  int weighted = 0;            // matrices with imatrix weights (the others uniform)
  std::string report;          // lines for the user: the budget, what it bought, min and max
};

// Errors: an imatrix of another model (as AttachImatrix, before any work), a budget below the
// smallest possible (naming the minimum as a file size or bpw, as the request was given).
Result<BudgetOutcome> PlanForBudget(const Config& config,
                                    std::span<const TensorView* const> tensors,
                                    const BudgetRequest& request);

}  // namespace shrink
