// KL divergence of a model Q against base log-probs P (llama-perplexity's --kl-divergence
// statistics): running sums per token and the summary (means with standard errors, covariance of
// the two NLLs, percentiles of per-token KLD and Δp, top-1 agreement).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "eval/token_scores.h"

namespace shrink {

// Mean of n samples from their sum and sum of squares, and the standard error of that mean,
// sqrt((Σx²/n − mean²) / (n − 1)); the error is 0 when the variance estimate is not positive or n
// <= 10 (llama-perplexity's rule for the KLD report).
struct MeanAndError {
  double mean = 0;
  double error = 0;
};
MeanAndError MeanWithError(double sum, double sum2, size_t n);

// Linear-interpolation percentile of sorted values: position fraction * (n − 1) (as
// llama-perplexity; fraction <= 0 gives the minimum, >= 1 the maximum). The fraction is a float, as
// there. REQUIRES: sorted non-empty.
float Percentile(const std::vector<float>& sorted, float fraction);
// Median of sorted values (mean of the middle two for even n). REQUIRES: non-empty.
float Median(const std::vector<float>& sorted);

struct KldStatistics {
  size_t count = 0;
  MeanAndError log_ppl, log_ppl_base;  // mean NLL of Q and of the base P
  double log_ppl_cov = 0;              // covariance of the two mean NLLs (0 when count < 10)
  MeanAndError log_ppl_ratio;          // ln(PPL(Q)/PPL(base))
  MeanAndError kld;                    // mean KL(P ‖ Q) per token
  MeanAndError p_diff;                 // mean Δp = Q(target) − P(target)
  MeanAndError p_diff_rms;             // sqrt(mean Δp²), error by the delta method
  MeanAndError same_top;               // fraction with argmax Q == argmax P; binomial error
};

// Accumulates TokenComparisons in the order given (sums in double, as llama-perplexity) and keeps
// every per-token KLD and Δp for the percentiles.
class KldAccumulator {
 public:
  void Add(const TokenComparison& c);
  size_t count() const { return count_; }
  KldStatistics Statistics() const;
  // Per-token values, sorted ascending (copies; call once at the end).
  std::vector<float> SortedKld() const;
  std::vector<float> SortedPDiff() const;
  float max_abs_p_diff() const { return max_abs_p_diff_; }

 private:
  double sum_nll_ = 0, sum_nll2_ = 0, sum_nll_base_ = 0, sum_nll_base2_ = 0, sum_nll_nll_base_ = 0;
  double sum_kld_ = 0, sum_kld2_ = 0, sum_p_diff_ = 0, sum_p_diff2_ = 0, sum_p_diff4_ = 0;
  float max_abs_p_diff_ = 0;
  size_t same_top_ = 0, count_ = 0;
  std::vector<float> kld_values_, p_diff_values_;
};

}  // namespace shrink
