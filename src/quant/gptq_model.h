// Calibrated quantization over a whole model, sequentially, layer by layer: GPTQ (the GPTQ paper's
// procedure), AWQ scaling (quant/awq.h) with round-to-nearest, or both (`quantize --method gptq |
// awq | awq+gptq`). One driver carries the calibration activations through the already scaled and
// quantized layers for every method.
//
// The calibration chunks (calib/calibration_run.h: n_chunk chunks of n_ctx tokens, BOS first) are
// embedded once; their residual stream X: (n_chunk, n_ctx, C) is then carried through the layers:
//
//   for each layer l, in four stages, each tensor's inputs taken only once every tensor that
//   feeds them is quantized ("true sequential" in the GPTQ reference code):
//     Q, K, V      Hessians from X (layer l's attention input), then GPTQ;
//     attn_output  Hessian from the attention with quantized Q, K, V, then GPTQ;
//     gate, up     Hessians from the FFN input after the quantized attention half, then GPTQ;
//     down         Hessian from the FFN with quantized gate and up, then GPTQ;
//   then X := the fully quantized layer's output, so layer l+1's Hessians come from activations
//   that passed through the quantized layers < l+1.
//
//   With AWQ (options.awq), before the Q, K, V stage one pass of the float attention half collects
//   the Grams of its two inputs (attn_norm's output, attn_output's input) and SearchAwqScales picks
//   attn_in (for q, k, v) and v_out (for attn_output) scales, which FoldAwqScales folds into the
//   layer; likewise before the gate/up stage for ffn_in and up_out, on the FFN half's input from the
//   quantized attention half. Folding preserves the float function, so the stages that follow see
//   the scaled weights and their (scaled) inputs. Imatrix weights follow the scaling (importance /
//   s², the scaled input's mean square) in the search, in GPTQ and in the encoder.
//   Without GPTQ (options.use_gptq false) each stage's tensors are encoded by their type's encoder
//   (the same as the writer's: imatrix-weighted when the plan has weights, options.encoding), so
//   later layers still see quantized activations; no Hessians are collected for them. Each stage collects only its own tensors'
//   Hessians (calib/hessian.h with a LinearFilter), so memory holds at most one stage's; a
//   tensor GPTQ is given the plan's imatrix weights when it has them, else diag(H) (quant/gptq.h).
//   Cost: the attention half runs 3 times per layer, the FFN half 3 times.
//
// Each quantized tensor's view in `model.weights` then points at its GPTQ bytes (type = the
// planned type, buffer kept in weights.storage), so WriteQuantizedGguf copies them byte for byte;
// tensors outside the block linears (token_embd, output, norms) or planned to types without a grid
// are left to the writer's usual encoding. Memory: the chunks' residual stream (n_chunk·n_ctx·C
// floats) twice (before and after the attention half), one stage's Hessians, one layer's
// activations, and the quantized bytes of the linears.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "base/status.h"
#include "calib/calibration_run.h"
#include "model/model.h"
#include "quant/awq.h"
#include "quant/convert_rows.h"
#include "quant/gptq.h"
#include "quant/plan.h"
#include "text/tokenizer.h"

namespace shrink {

struct GptqModelOptions {
  GptqOptions gptq;
  bool use_gptq = true;  // false: round by the type's encoder (with `encoding`)
  bool awq = false;      // search and fold AWQ scales before rounding each half layer
  std::vector<double> awq_alphas = AwqSearchOptions::DefaultAlphaGrid();
  int64_t awq_max_rows = 0;  // rows per matrix in the α search (AwqSearchOptions::max_rows)
  RowEncoding encoding = RowEncoding::kReference;  // the encoder's rounding when !use_gptq
  int threads = 1;   // kernel pool threads (forward, row tiles) and BLAS threads (Gram, Cholesky)
  TokenId bos = -1;  // put first in each chunk, or -1 for none (as CalibrationOptions::bos)
  // Called after each layer with (layers done, n_layers); may be empty.
  std::function<void(int, int)> on_layer = nullptr;
};

struct GptqModelReport {
  int64_t tensors = 0;       // tensors quantized by GPTQ (or by the encoder without GPTQ)
  int64_t dead_columns = 0;  // summed over them
  int64_t awq_groups = 0;    // AWQ scale groups searched (4 per layer)
  int64_t awq_scaled = 0;    // of them, those whose best α > 0 (the others stay unscaled)
  double awq_loss = 0;       // Σ over groups of the search loss at the chosen α
  double awq_loss_rtn = 0;   // the same at α = 0 (plain rounding)
};

// REQUIRES: `plan` was made for `model` (its sources are views of model.weights) and
// CheckEncodable(plan) is OK; tokens.size() >= cplan.n_ctx · cplan.n_chunk, every token inside
// the vocabulary. Errors: GPTQ's and AWQ's (named by tensor), a token out of range.
Result<GptqModelReport> GptqQuantizeModel(Model& model, const QuantPlan& plan,
                                          std::span<const TokenId> tokens,
                                          const CalibrationPlan& cplan,
                                          const GptqModelOptions& options);

}  // namespace shrink
