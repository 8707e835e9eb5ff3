// Text output of `shrink perplexity`, in llama-perplexity's exact layout (same printf formats), so
// the two tools' outputs can be compared line by line.
#pragma once

#include <cstdint>
#include <string>

#include "eval/kl_divergence.h"
#include "eval/perplexity.h"

namespace shrink {

// "[3]12.3456," : running PPL after chunk `chunk_number` (1-based).
std::string FormatRunningPpl(int32_t chunk_number, double ppl);
// "Final estimate: PPL = 12.3456 +/- 0.12345\n" (or llama-perplexity's message when the variance
// estimate is not positive).
std::string FormatFinalEstimate(const NllAccumulator& nll);
// The same line for a KL-divergence run: PPL(Q) from its float NLLs, same formula.
std::string FormatKldFinalEstimate(const KldAccumulator& kld);

// The KLD table header (printed once, after the first chunk) and one row per chunk.
std::string KldTableHeader();
std::string FormatKldChunkRow(int32_t chunk_number, const KldStatistics& s);
// The "====== Perplexity statistics ======" ... "Same top p" summary; empty when fewer than 100
// tokens were compared (llama-perplexity prints no statistics on so few values).
std::string FormatKldSummary(const KldAccumulator& kld);

}  // namespace shrink
