// GPTQ over a whole model, sequentially, layer by layer (the GPTQ paper's procedure).
//
// The driver is calib/sequential_layers.h (shared with SparseGPT): the calibration chunks are
// carried through the layers and each planned block linear is quantized from the Hessian of its
// inputs, which passed through the already quantized tensors (true-sequential order: Q/K/V,
// attn_output, gate/up, down). A tensor GPTQ is given the plan's imatrix weights when it has them,
// else diag(H) (quant/gptq.h).
//
// Each quantized tensor's view in `model.weights` then points at its GPTQ bytes (type = the
// planned type, buffer kept in weights.storage), so WriteQuantizedGguf copies them byte for byte;
// tensors outside the block linears (token_embd, output, norms) or planned to types without a grid
// are left to the writer's usual encoding. Memory: as the driver's, plus the quantized bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "base/status.h"
#include "calib/calibration_run.h"
#include "model/model.h"
#include "quant/gptq.h"
#include "quant/plan.h"
#include "text/tokenizer.h"

namespace shrink {

struct GptqModelOptions {
  GptqOptions gptq;
  int threads = 1;   // kernel pool threads (forward, row tiles) and BLAS threads (Gram, Cholesky)
  TokenId bos = -1;  // put first in each chunk, or -1 for none (as CalibrationOptions::bos)
  // Called after each layer with (layers done, n_layers); may be empty.
  std::function<void(int, int)> on_layer = nullptr;
};

struct GptqModelReport {
  int64_t tensors = 0;       // tensors quantized by GPTQ
  int64_t dead_columns = 0;  // summed over them
};

// REQUIRES: `plan` was made for `model` (its sources are views of model.weights) and
// CheckEncodable(plan) is OK; tokens.size() >= cplan.n_ctx · cplan.n_chunk, every token inside the
// vocabulary. Errors: GPTQ's (named by tensor), a token out of range.
Result<GptqModelReport> GptqQuantizeModel(Model& model, const QuantPlan& plan,
                                          std::span<const TokenId> tokens,
                                          const CalibrationPlan& cplan,
                                          const GptqModelOptions& options);

}  // namespace shrink
