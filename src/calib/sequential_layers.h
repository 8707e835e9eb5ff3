// The layer-by-layer driver shared by GPTQ (quant/gptq_model.h) and SparseGPT
// (prune/sparsegpt_model.h): each block linear is rewritten from the Hessian of its inputs, where
// those inputs come from calibration text that passed through the already rewritten tensors.
//
// The calibration chunks (calib/calibration_run.h: n_chunk chunks of n_ctx tokens, BOS first) are
// embedded once; their residual stream X: (n_chunk, n_ctx, C) is then carried through the layers:
//
//   for each layer l, in four stages, each tensor's inputs taken only once every tensor that
//   feeds them is rewritten ("true sequential" in the GPTQ and SparseGPT reference code):
//     Q, K, V      Hessians from X (layer l's attention input), then `rewrite`;
//     attn_output  Hessian from the attention with rewritten Q, K, V, then `rewrite`;
//     gate, up     Hessians from the FFN input after the rewritten attention half, then `rewrite`;
//     down         Hessian from the FFN with rewritten gate and up, then `rewrite`;
//   then X := the fully rewritten layer's output, so layer l+1's Hessians come from activations
//   that passed through the rewritten layers < l+1. Each stage collects only its selected tensors'
//   Hessians (calib/hessian.h with a LinearFilter), so memory holds at most one stage's; a stage
//   with no selected tensor is skipped.
//   Cost: the attention half runs 3 times per layer, the FFN half 3 times.
//
// A rewritten tensor's view in `model.weights` then points at its new bytes (type as `rewrite`
// says, buffer kept in weights.storage), so a GGUF writer copies or re-encodes them like any other
// view. Memory: the chunks' residual stream (n_chunk·n_ctx·C floats) twice, one stage's Hessians,
// one layer's activations, and the rewritten tensors' bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "calib/calibration_run.h"
#include "calib/hessian.h"
#include "formats/types.h"
#include "model/model.h"
#include "model/transformer.h"
#include "text/tokenizer.h"

namespace shrink {

// Runs one pass of the current half layer (its tensors as rewritten so far) over that half's
// calibration input, feeding `observer`; outputs are discarded.
using ObserveHalf = std::function<void(ForwardObserver& observer)>;

// Called before the first stage of each half of layer l (attention, then the FFN, whose input is
// then the rewritten attention half's output) with a way to observe that half. It may change any
// tensor of layer l in model.weights (AWQ folds scales into the norms and the preceding linears);
// the driver takes layer l's views from model.weights again after it returns.
using BeforeHalf = std::function<Status(int layer, bool attention, const ObserveHalf& observe)>;

// A linear tensor's new contents: `bytes` are whole rows of `type` for the view's shape.
struct RewrittenTensor {
  TensorType type = TensorType::kF32;
  std::vector<uint8_t> bytes;
};

// What to do with one selected linear given the Gram sums of its calibration inputs (GptqHessian
// forms H from them). Returning std::nullopt leaves the tensor as it is. Runs while no kernel
// runs, so it may use the kernel pool (KernelThreads()) and BLAS threads.
using RewriteLinear = std::function<Result<std::optional<RewrittenTensor>>(const TensorView& view,
                                                                           const GramEntry& gram)>;

struct SequentialOptions {
  int threads = 1;   // kernel pool threads (forward) and BLAS threads (Gram sums)
  TokenId bos = -1;  // put first in each chunk, or -1 for none (as CalibrationOptions::bos)
  // Which block linears to rewrite (layer, role); others keep their weights and their Hessians are
  // not collected.
  LinearFilter select;
  // Called after each layer with (layers done, n_layers); may be empty.
  std::function<void(int, int)> on_layer = nullptr;
  // false: no Hessians are collected (a rewrite that does not need them, e.g. plain rounding after
  // AWQ scaling); `rewrite` then gets an empty GramEntry and each stage costs no forward pass.
  bool collect_hessians = true;
  // May be empty.
  BeforeHalf before_half = nullptr;
};

// REQUIRES: tokens.size() >= cplan.n_ctx · cplan.n_chunk; options.select set. Errors: a token out
// of the vocabulary; a selected tensor the calibration pass saw no input for; `rewrite`'s errors
// (with the tensor's name as context); rewritten bytes of the wrong size.
Status RewriteLinearsSequentially(Model& model, std::span<const TokenId> tokens,
                                  const CalibrationPlan& cplan, const SequentialOptions& options,
                                  const RewriteLinear& rewrite);

}  // namespace shrink
