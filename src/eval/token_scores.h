// Scoring one row of logits against the next token, with llama-perplexity's exact numerics, so that
// shrink and llama-perplexity agree to the last printed digit on the same logits.
//
// Numerics (as llama.cpp's tools/perplexity): the row maximum in float; Σ exp(l_i − max)
// accumulated in double over float expf terms; log of that sum in double. The plain perplexity path
// keeps the NLL in double; the paths that write or read a base file round log Σ to float and form
// the NLL in float.
#pragma once

#include <cstdint>
#include <span>

#include "base/status.h"
#include "text/tokenizer.h"

namespace shrink {

// Errors when `logits` ((rows, vocab), row-major) hold a NaN or an infinity, naming the first:
// "logits at token position 300 hold NaN at vocabulary index 0 (the model's weights or activations
// are not finite)", where row r is position first_position + r. One compare per logit, cheap next
// to the forward pass that produced them; without it NaN logits turn into a NaN perplexity or
// into sampling whatever token comes first.
Status CheckFiniteLogits(std::span<const float> logits, int64_t vocab, int64_t first_position);

// −log softmax(logits)[target] as llama-perplexity computes it when no base file is written.
// logits: (vocab). REQUIRES: 0 <= target < logits.size().
double TokenNll(std::span<const float> logits, TokenId target);

// Encodes the row's log-probabilities into `row` (LogProbRowWords(vocab) words, the base-file
// layout in logits_file.h: f32 scale, f32 min log-prob, vocab × u16, zero padding) and returns the
// NLL of `target` as llama-perplexity computes it on that path (float).
float EncodeLogProbs(std::span<const float> logits, TokenId target, std::span<uint16_t> row);

// Decodes entry `i` of an encoded row: scale * q_i + min_log_prob (float).
float DecodedLogProb(std::span<const uint16_t> row, int32_t i);

// One token of the model under test (Q, `logits`) compared with the base distribution P
// (`base_row`).
struct TokenComparison {
  float nll = 0;       // −log Q(target)
  float nll_base = 0;  // −log P(target)
  double kld = 0;      // KL(P ‖ Q) = Σ_i P_i (log P_i − log Q_i), over i with log P_i > −16
  float p_diff = 0;    // Q(target) − P(target)
  bool same_top = false;  // argmax Q == argmax P (first index on ties)
};
TokenComparison CompareWithBase(std::span<const float> logits, std::span<const uint16_t> base_row,
                                TokenId target);

}  // namespace shrink
