// SparseGPT over a whole model: every linear inside the blocks pruned by prune/sparsegpt.h, layer
// by layer, each from the Hessian of inputs that passed through the already pruned tensors (the
// driver calib/sequential_layers.h, shared with GPTQ: true-sequential order Q/K/V, attn_output,
// gate/up, down, then the next layer's input from the pruned layer).
//
// Each pruned tensor's view in `model.weights` then points at its pruned F32 weights (kept in
// weights.storage); token_embd, output and norms are untouched. The caller writes the model with
// prune/pruned_gguf.h, those tensors marked "not to prune" (they already are), in any output type.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "base/status.h"
#include "calib/calibration_run.h"
#include "model/model.h"
#include "prune/sparsegpt.h"
#include "prune/sparsity.h"
#include "text/tokenizer.h"

namespace shrink {

struct SparseGptModelOptions {
  SparseGptOptions sparsegpt;
  int threads = 1;   // kernel pool threads (forward, row tiles) and BLAS threads (Gram, Cholesky)
  TokenId bos = -1;  // put first in each chunk, or -1 for none (as CalibrationOptions::bos)
  // Called after each layer with (layers done, n_layers); may be empty.
  std::function<void(int, int)> on_layer = nullptr;
  // Called after each tensor with (name, weights removed, weights); may be empty.
  std::function<void(std::string_view, int64_t, int64_t)> on_tensor = nullptr;
};

struct SparseGptModelReport {
  int64_t tensors = 0;       // tensors pruned
  int64_t removed = 0;       // weights removed, summed over them
  int64_t total = 0;         // their weights
  int64_t dead_columns = 0;  // summed over them
};

// REQUIRES: target valid (CheckSparsity, or a pattern whose M divides every block linear's
// rows); tokens.size() >= cplan.n_ctx · cplan.n_chunk. Errors: a token out of range, SparseGPT's
// (named by tensor).
Result<SparseGptModelReport> SparseGptPruneModel(Model& model, const SparsityTarget& target,
                                                 std::span<const TokenId> tokens,
                                                 const CalibrationPlan& cplan,
                                                 const SparseGptModelOptions& options);

}  // namespace shrink
