// GPTQ over a whole model, sequentially, layer by layer (the GPTQ paper's procedure).
//
// The calibration chunks (calib/calibration_run.h: n_chunk chunks of n_ctx tokens, BOS first) are
// embedded once; their residual stream X: (n_chunk, n_ctx, C) is then carried through the layers:
//
//   for each layer l:
//     1. run layer l with its float weights on X, collecting the Hessians H = 2XᵀX/n of the
//        inputs of its linear tensors (calib/hessian.h, a LinearFilter selecting layer l only, so
//        memory holds one layer's Hessians);
//     2. GPTQ each linear tensor of layer l that the plan re-encodes into a type with a block grid
//        (quant/gptq.h), with the plan's imatrix weights when it has them, else diag(H);
//     3. run layer l again with the QUANTIZED weights on X: the next layer's X, so the Hessians of
//        layer l+1 come from activations that passed through the quantized layers < l+1.
//
// Each quantized tensor's view in `model.weights` then points at its GPTQ bytes (type = the
// planned type, buffer kept in weights.storage), so WriteQuantizedGguf copies them byte for byte;
// tensors outside the block linears (token_embd, output, norms) or planned to types without a grid
// are left to the writer's usual encoding. Memory: the chunks' residual stream (n_chunk·n_ctx·C
// floats), one layer's Hessians and activations, and the quantized bytes of the linears.
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
