#include "eval/perplexity.h"

#include <cmath>
#include <limits>
#include <thread>

#include "base/check.h"
#include "eval/token_scores.h"

namespace shrink {
namespace {

// Calls fn(row) for row in [0, rows), split into contiguous ranges over `threads` threads. Each row
// writes only its own outputs, so results do not depend on the thread count.
template <typename Fn>
void ForEachRow(int32_t rows, int threads, const Fn& fn) {
  threads = std::max(1, std::min(threads, rows));
  if (threads == 1) {
    for (int32_t r = 0; r < rows; ++r) fn(r);
    return;
  }
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    const int32_t begin = int32_t(int64_t(rows) * t / threads);
    const int32_t end = int32_t(int64_t(rows) * (t + 1) / threads);
    workers.emplace_back([&fn, begin, end] {
      for (int32_t r = begin; r < end; ++r) fn(r);
    });
  }
}

// Copies chunk `c` of `tokens`, with BOS first where the vocabulary adds one.
std::vector<TokenId> ChunkTokens(std::span<const TokenId> tokens, const ChunkPlan& plan,
                                 const EvalSetup& setup, int32_t c) {
  std::vector<TokenId> chunk(tokens.begin() + size_t(c) * plan.n_ctx,
                             tokens.begin() + size_t(c + 1) * plan.n_ctx);
  if (setup.add_bos) chunk[0] = setup.bos;
  return chunk;
}

// NaN or infinite logits in the scored rows of chunk `c` (positions first .. n_ctx−2) are an
// error naming the chunk and the position, rather than a NaN perplexity.
Status CheckScoredRows(std::span<const float> logits, const ChunkPlan& plan, size_t V, int32_t c) {
  return CheckFiniteLogits(logits.subspan(size_t(plan.first) * V, size_t(plan.scored) * V),
                           static_cast<int64_t>(V), plan.first)
      .WithContext(fmt::format("chunk {} (text tokens {} to {})", c + 1, int64_t(c) * plan.n_ctx,
                               int64_t(c + 1) * plan.n_ctx - 1));
}

}  // namespace

Result<ChunkPlan> PlanChunks(size_t n_tokens, int32_t n_ctx, int32_t max_chunks) {
  if (n_ctx < 4) return Status::Errorf("--ctx is {}, expected at least 4", n_ctx);
  if (max_chunks == 0) return Status::Error("--chunks is 0, expected at least 1 chunk to score");
  if (n_tokens < 2 * size_t(n_ctx)) {
    return Status::Errorf(
        "the text tokenizes to only {} tokens; a context of {} needs at least {} (2 × ctx)",
        n_tokens, n_ctx, 2 * size_t(n_ctx));
  }
  ChunkPlan plan;
  plan.n_ctx = n_ctx;
  plan.n_chunk = static_cast<int32_t>(n_tokens / n_ctx);
  if (max_chunks >= 0) plan.n_chunk = std::min(plan.n_chunk, max_chunks);
  plan.first = n_ctx / 2;
  plan.scored = ScoredPerChunk(n_ctx);
  return plan;
}

double NllAccumulator::Ppl() const { return std::exp(sum_ / count_); }

double NllAccumulator::PplError() const {
  const double mean = sum_ / count_;
  const double var = sum2_ / count_ - mean * mean;
  if (!(var > 0) || count_ < 2) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(var / (count_ - 1)) * Ppl();
}

Status RunPerplexity(std::span<const TokenId> tokens, const ChunkPlan& plan, const EvalSetup& setup,
                     const ChunkEvaluator& evaluate, LogitsFileWriter* save, NllAccumulator& nll,
                     const std::function<void(int32_t)>& on_chunk) {
  const size_t V = setup.n_vocab;
  const size_t row_words = LogProbRowWords(setup.n_vocab);
  std::vector<float> logits(size_t(plan.n_ctx) * V);  // (n_ctx, V)
  std::vector<double> token_nll(plan.scored);
  std::vector<uint16_t> rows(save ? size_t(plan.scored) * row_words : 0);
  for (int32_t c = 0; c < plan.n_chunk; ++c) {
    const std::vector<TokenId> chunk = ChunkTokens(tokens, plan, setup, c);
    SHRINK_RETURN_IF_ERROR(evaluate(chunk, logits).WithContext(fmt::format("chunk {}", c + 1)));
    SHRINK_RETURN_IF_ERROR(CheckScoredRows(logits, plan, V, c));
    // Targets come from the text (not the BOS-replaced copy); only position 0 differs anyway.
    const TokenId* targets = tokens.data() + size_t(c) * plan.n_ctx + plan.first + 1;
    ForEachRow(plan.scored, setup.threads, [&](int32_t r) {
      std::span<const float> row(logits.data() + size_t(plan.first + r) * V, V);
      token_nll[r] = save
                         ? EncodeLogProbs(row, targets[r], {rows.data() + r * row_words, row_words})
                         : TokenNll(row, targets[r]);
    });
    for (double v : token_nll) nll.Add(v);
    if (save) SHRINK_RETURN_IF_ERROR(save->WriteChunk(rows));
    on_chunk(c);
  }
  return Status::Ok();
}

Status RunKlDivergence(LogitsFileReader& base, int32_t n_chunk, const EvalSetup& setup,
                       const ChunkEvaluator& evaluate, KldAccumulator& kld,
                       const std::function<void(int32_t)>& on_chunk) {
  const LogitsFileHeader& h = base.header();
  SHRINK_CHECK(setup.n_vocab == h.n_vocab && n_chunk <= h.n_chunk);
  ChunkPlan plan{h.n_ctx, n_chunk, h.n_ctx / 2, ScoredPerChunk(h.n_ctx)};
  const size_t V = setup.n_vocab;
  const size_t row_words = LogProbRowWords(setup.n_vocab);
  std::vector<float> logits(size_t(plan.n_ctx) * V);
  std::vector<uint16_t> rows(size_t(plan.scored) * row_words);
  std::vector<TokenComparison> compared(plan.scored);
  for (int32_t c = 0; c < plan.n_chunk; ++c) {
    const std::vector<TokenId> chunk = ChunkTokens(h.tokens, plan, setup, c);
    SHRINK_RETURN_IF_ERROR(evaluate(chunk, logits).WithContext(fmt::format("chunk {}", c + 1)));
    SHRINK_RETURN_IF_ERROR(CheckScoredRows(logits, plan, V, c));
    SHRINK_RETURN_IF_ERROR(base.ReadChunk(c, rows));
    const TokenId* targets = h.tokens.data() + size_t(c) * plan.n_ctx + plan.first + 1;
    ForEachRow(plan.scored, setup.threads, [&](int32_t r) {
      std::span<const float> row(logits.data() + size_t(plan.first + r) * V, V);
      compared[r] = CompareWithBase(row, {rows.data() + r * row_words, row_words}, targets[r]);
    });
    for (const TokenComparison& t : compared) kld.Add(t);
    on_chunk(c);
  }
  return Status::Ok();
}

}  // namespace shrink
