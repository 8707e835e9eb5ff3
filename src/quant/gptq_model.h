// Calibrated quantization over a whole model, sequentially, layer by layer: GPTQ (the GPTQ paper's
// procedure), AWQ scaling (quant/awq.h) with round-to-nearest, or both (`quantize --method gptq |
// awq | awq+gptq`).
//
// The driver is calib/sequential_layers.h (shared with SparseGPT): the calibration chunks are
// carried through the layers and each planned block linear is quantized from the Hessian of its
// inputs, which passed through the already quantized tensors (true-sequential order: Q/K/V,
// attn_output, gate/up, down). A tensor GPTQ is given the plan's imatrix weights when it has them,
// else diag(H) (quant/gptq.h).
//
// With AWQ (options.awq), before each half layer (the driver's before_half hook) one pass of that
// half over its input (from the already quantized layers) collects the Grams of its two scalable
// inputs (attn_norm's output and attn_output's input, or ffn_norm's output and ffn_down's input);
// SearchAwqScales picks the scales of q/k/v and attn_output (per K/V channel), or of gate/up and
// down, which FoldAwqScales folds into the norms and into attn_v/ffn_up rows. Folding preserves the
// float function, so the stages that follow see the scaled weights and their scaled inputs.
// Imatrix weights follow the scaling (importance / s², the scaled input's mean square) in the
// search, in GPTQ and in the encoder. Without GPTQ (options.use_gptq false) each stage's tensors
// are encoded by their type's encoder (the writer's: imatrix-weighted when the plan has weights,
// options.encoding), so later layers still see quantized activations, and no Hessians are
// collected.
//
// Each quantized tensor's view in `model.weights` then points at its bytes (type = the planned
// type, buffer kept in weights.storage), so WriteQuantizedGguf copies them byte for byte; tensors
// outside the block linears (token_embd, output) or planned to types without a grid are left to
// the writer's usual encoding (AWQ's folded norms are F32 views it writes as they are). Memory: as
// the driver's, plus the quantized bytes.
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
  // With awq and !use_gptq: fold the scales but leave every linear in F32 (no rounding), so the
  // model's views hold the AWQ-scaled float model: the same function as the source, scaled so
  // that the plan's types round it better (a start for quantization-aware training). Later
  // layers' scales are then searched on inputs from unrounded earlier layers.
  bool fold_only = false;
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
