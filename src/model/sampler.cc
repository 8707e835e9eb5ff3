#include "model/sampler.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace shrink {

TokenId Argmax(std::span<const float> logits) {
  SHRINK_CHECK(!logits.empty());
  return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {}

TokenId Sampler::Sample(std::span<const float> logits) {
  if (options_.temperature <= 0.0f) return Argmax(logits);
  const double inv_t = 1.0 / options_.temperature;
  const float max = *std::max_element(logits.begin(), logits.end());
  candidates_.clear();
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const double p = std::exp((static_cast<double>(logits[i]) - max) * inv_t);
    sum += p;
    candidates_.emplace_back(p, static_cast<TokenId>(i));
  }
  // Most probable first; ties by id so the order (and so the draw) is the same everywhere.
  std::sort(candidates_.begin(), candidates_.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  size_t keep = candidates_.size();
  double mass = sum;
  if (options_.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cum += candidates_[i].first;
      if (cum >= options_.top_p * sum) {
        keep = i + 1;
        mass = cum;
        break;
      }
    }
  }
  const double u = static_cast<double>(rng_() >> 11) * 0x1p-53 * mass;
  double cum = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    cum += candidates_[i].first;
    if (u < cum) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;  // u rounded up to the mass
}

}  // namespace shrink
