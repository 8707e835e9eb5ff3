#include "train/token_batches.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "base/check.h"

namespace shrink::train {

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Result<TokenBatches> TokenBatches::Create(std::vector<int32_t> tokens, int64_t T, uint64_t seed) {
  SHRINK_CHECK(T > 0);
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n < T + 1) {
    return Status::Errorf(
        "the data has {} tokens; one training sequence of {} tokens needs at least {} (inputs plus "
        "the next token); give more text or a smaller --seq",
        n, T, T + 1);
  }
  return TokenBatches(std::move(tokens), T, seed);
}

TokenBatches::TokenBatches(std::vector<int32_t> tokens, int64_t T, uint64_t seed)
    : tokens_(std::move(tokens)), T_(T), rng_(seed) {
  order_.resize(static_cast<size_t>((static_cast<int64_t>(tokens_.size()) - 1) / T_));
  Shuffle();
}

void TokenBatches::Shuffle() {
  std::iota(order_.begin(), order_.end(), int64_t{0});
  for (size_t i = order_.size(); i-- > 1;) {
    const size_t j = static_cast<size_t>(rng_.Next() % (i + 1));
    std::swap(order_[i], order_[j]);
  }
  cursor_ = 0;
}

void TokenBatches::Next(int64_t B, std::span<int32_t> inputs, std::span<int32_t> targets,
                        std::span<int64_t> window_ids) {
  SHRINK_CHECK(static_cast<int64_t>(inputs.size()) == B * T_ &&
               static_cast<int64_t>(targets.size()) == B * T_);
  SHRINK_CHECK(window_ids.empty() || static_cast<int64_t>(window_ids.size()) == B);
  for (int64_t b = 0; b < B; ++b) {
    if (cursor_ == windows()) Shuffle();
    const int64_t w = order_[static_cast<size_t>(cursor_++)];
    if (!window_ids.empty()) window_ids[static_cast<size_t>(b)] = w;
    const int64_t start = w * T_;
    ++consumed_;
    std::copy_n(tokens_.begin() + start, T_, inputs.begin() + b * T_);
    std::copy_n(tokens_.begin() + start + 1, T_, targets.begin() + b * T_);
  }
}

}  // namespace shrink::train
