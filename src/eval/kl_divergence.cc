#include "eval/kl_divergence.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace shrink {

MeanAndError MeanWithError(double sum, double sum2, size_t n) {
  if (n < 1) return {};
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  return {mean, var > 0 && n > 10 ? std::sqrt(var / (n - 1)) : 0.0};
}

float Percentile(const std::vector<float>& sorted, float fraction) {
  SHRINK_CHECK(!sorted.empty());
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  float position = fraction * (sorted.size() - 1);
  const size_t below = static_cast<size_t>(position);
  position -= below;
  return (1 - position) * sorted[below] + position * sorted[std::min(below + 1, sorted.size() - 1)];
}

float Median(const std::vector<float>& sorted) {
  SHRINK_CHECK(!sorted.empty());
  const size_t n = sorted.size();
  return n % 2 == 0 ? 0.5f * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[n / 2];
}

void KldAccumulator::Add(const TokenComparison& c) {
  // Squares and cross products of the float NLLs are formed in float, then summed in double.
  sum_nll_ += c.nll;
  sum_nll2_ += c.nll * c.nll;
  sum_nll_base_ += c.nll_base;
  sum_nll_base2_ += c.nll_base * c.nll_base;
  sum_nll_nll_base_ += c.nll * c.nll_base;
  sum_kld_ += c.kld;
  sum_kld2_ += c.kld * c.kld;
  sum_p_diff_ += c.p_diff;
  const double p_diff2 = c.p_diff * c.p_diff;
  sum_p_diff2_ += p_diff2;
  sum_p_diff4_ += p_diff2 * p_diff2;
  max_abs_p_diff_ = std::max(max_abs_p_diff_, std::fabs(c.p_diff));
  same_top_ += c.same_top;
  ++count_;
  kld_values_.push_back(static_cast<float>(c.kld));
  p_diff_values_.push_back(c.p_diff);
}

KldStatistics KldAccumulator::Statistics() const {
  KldStatistics s;
  const size_t n = count_;
  s.count = n;
  s.log_ppl = MeanWithError(sum_nll_, sum_nll2_, n);
  s.log_ppl_base = MeanWithError(sum_nll_base_, sum_nll_base2_, n);
  if (n >= 10) {
    s.log_ppl_cov = (sum_nll_nll_base_ / n - (sum_nll_ / n) * (sum_nll_base_ / n)) / (n - 1);
  }
  s.log_ppl_ratio.mean = s.log_ppl.mean - s.log_ppl_base.mean;
  s.log_ppl_ratio.error =
      std::sqrt(s.log_ppl.error * s.log_ppl.error + s.log_ppl_base.error * s.log_ppl_base.error -
                2.0 * s.log_ppl_cov);
  s.kld = MeanWithError(sum_kld_, sum_kld2_, n);
  s.p_diff = MeanWithError(sum_p_diff_, sum_p_diff2_, n);
  const MeanAndError mse = MeanWithError(sum_p_diff2_, sum_p_diff4_, n);
  s.p_diff_rms.mean = std::sqrt(mse.mean);
  s.p_diff_rms.error = 0.5 / s.p_diff_rms.mean * mse.error;  // d sqrt(x) = dx / (2 sqrt(x))
  if (n > 0) {
    const double top = 1.0 * same_top_ / n;
    s.same_top = {top, std::sqrt(top * (1 - top) / (n - 1))};
  }
  return s;
}

std::vector<float> KldAccumulator::SortedKld() const {
  std::vector<float> v = kld_values_;
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<float> KldAccumulator::SortedPDiff() const {
  std::vector<float> v = p_diff_values_;
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace shrink
