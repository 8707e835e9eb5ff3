// Perplexity by llama-perplexity's protocol, and the KL-divergence run against a saved base.
//
// Protocol: the text is tokenized once (BOS first where the vocabulary adds one); it is cut into
// n_chunk = min(n_tokens / n_ctx, --chunks) non-overlapping chunks of n_ctx tokens; each chunk runs
// from an empty KV cache with its first token replaced by BOS where the vocabulary adds one; only
// positions first = n_ctx/2 .. n_ctx−2 are scored (their logits predict tokens first+1 .. n_ctx−1),
// so every scored token sees at least n_ctx/2 tokens of context. PPL = exp(mean NLL) over all
// scored tokens; its standard error is PPL · sqrt((E[NLL²] − E[NLL]²) / (count − 1)).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/status.h"
#include "eval/kl_divergence.h"
#include "eval/logits_file.h"
#include "text/tokenizer.h"

namespace shrink {

struct ChunkPlan {
  int32_t n_ctx = 0;
  int32_t n_chunk = 0;
  int32_t first = 0;   // n_ctx / 2: first scored position
  int32_t scored = 0;  // n_ctx − 1 − first scored positions per chunk
};

// Errors (as llama-perplexity) when the text has fewer than 2 · n_ctx tokens, or n_ctx < 4, and
// when max_chunks is 0 (nothing to score). max_chunks < 0 means all chunks.
Result<ChunkPlan> PlanChunks(size_t n_tokens, int32_t n_ctx, int32_t max_chunks);

// Running sums of per-token NLL (double).
class NllAccumulator {
 public:
  void Add(double nll) { sum_ += nll, sum2_ += nll * nll, ++count_; }
  size_t count() const { return count_; }
  double Ppl() const;
  // PPL · standard error of the mean NLL; NaN when the variance estimate is not positive.
  double PplError() const;

 private:
  double sum_ = 0, sum2_ = 0;
  size_t count_ = 0;
};

// Evaluates one chunk from an empty KV cache: tokens (n_ctx) → logits (n_ctx, n_vocab), row-major.
using ChunkEvaluator = std::function<Status(std::span<const TokenId>, std::span<float>)>;

struct EvalSetup {
  int32_t n_vocab = 0;
  bool add_bos = false;  // replace each chunk's first token with `bos`
  TokenId bos = -1;
  int threads = 1;  // for scoring rows; results do not depend on it
};

// Runs the perplexity protocol over `tokens`. NaN or infinite logits in a scored row are an error
// naming the chunk and position. With `save`, also writes each chunk's encoded
// log-probs (the NLLs then come from that path's float numerics, as in llama-perplexity).
// `on_chunk(i)` is called after chunk i (0-based) is accumulated into `nll`.
Status RunPerplexity(std::span<const TokenId> tokens, const ChunkPlan& plan, const EvalSetup& setup,
                     const ChunkEvaluator& evaluate, LogitsFileWriter* save, NllAccumulator& nll,
                     const std::function<void(int32_t)>& on_chunk);

// Runs the first `n_chunk` chunks of `base` and compares each scored token with the base's
// log-probs (non-finite logits: an error, as in RunPerplexity). REQUIRES: setup.n_vocab == base.header().n_vocab, n_chunk <= base.header().n_chunk.
Status RunKlDivergence(LogitsFileReader& base, int32_t n_chunk, const EvalSetup& setup,
                       const ChunkEvaluator& evaluate, KldAccumulator& kld,
                       const std::function<void(int32_t)>& on_chunk);

}  // namespace shrink
