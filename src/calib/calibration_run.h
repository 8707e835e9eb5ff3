// Running calibration text through a model, chunk by chunk, as llama.cpp's llama-imatrix does.
//
// The token stream is cut into n_chunk = min(n_tokens / n_ctx, max_chunks) chunks of n_ctx tokens
// (a partial last chunk is dropped). Each chunk runs from an empty KV cache, with its first token
// replaced by BOS when the vocabulary adds BOS (llama-imatrix does this even though the first
// chunk already starts with the BOS the tokenizer added). Every position of a chunk passes through
// every layer, so a collector attached to the session (calib/imatrix.h) sees n_ctx rows of each
// linear input per chunk; llama-imatrix's perplexity over each chunk's second half is not
// computed here. Collectors of GPTQ and AWQ statistics use the same chunks.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "base/status.h"
#include "model/transformer.h"
#include "text/tokenizer.h"

namespace shrink {

struct CalibrationPlan {
  int32_t n_ctx = 0;    // tokens per chunk
  int32_t n_chunk = 0;  // chunks to run, >= 1
};

// The chunks of a text of `n_tokens` tokens; max_chunks < 0 means all of them. Errors: n_ctx < 1,
// max_chunks == 0, or fewer tokens than one chunk ("the text has 300 tokens, fewer than one
// chunk: --ctx 512 needs at least 512").
Result<CalibrationPlan> PlanCalibration(size_t n_tokens, int32_t n_ctx, int32_t max_chunks);

struct CalibrationOptions {
  // BOS put first in each chunk, or -1 for none (a vocabulary that does not add BOS).
  TokenId bos = -1;
  // Whether the output projection must see every position (a collector that observes it, as
  // llama-imatrix --process-output); otherwise only the last position's logits are computed.
  bool all_logits = false;
  // Called after each chunk with the number of chunks done; may be empty.
  std::function<void(int32_t)> on_chunk = nullptr;
};

// Runs the plan's chunks of `tokens` through `session` (whose observer collects the statistics).
// REQUIRES: tokens.size() >= plan.n_ctx * plan.n_chunk; the session's context >= plan.n_ctx.
// Errors: the session's (a token id outside the vocabulary), with the chunk number.
Status RunCalibration(InferenceSession& session, int32_t vocab_size,
                      std::span<const TokenId> tokens, const CalibrationPlan& plan,
                      const CalibrationOptions& options);

}  // namespace shrink
