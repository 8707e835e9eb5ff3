// TokenBatches: a token stream cut into training sequences, visited in a seeded random order.
//
// The stream is split into W = (n - 1) / T non-overlapping windows; window w gives the inputs
// tokens[wT, wT + T) and the targets tokens[wT + 1, wT + T + 1) (next-token prediction), so every
// token but the first is a target exactly once per epoch. Each epoch visits all windows in a
// fresh permutation; a batch takes the next B windows of the current epoch (continuing into the
// next epoch's permutation when this one runs out).
//
// The order is reproducible on every platform and standard library: the permutation is a
// Fisher-Yates shuffle (j drawn for i = W-1 down to 1, swap(i, j)) driven by SplitMix64
// (Steele, Lea & Flood 2014: state += 0x9E3779B97F4A7C15, then the xor-shift-multiply finalizer)
// seeded with `seed`, with j = draw mod (i + 1) (bias below W / 2⁶⁴, negligible). std::shuffle and
// std::uniform_int_distribution are avoided because their output differs between libraries.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"

namespace shrink::train {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();

 private:
  uint64_t state_;
};

class TokenBatches {
 public:
  // Error when the stream is shorter than one sequence (T + 1 tokens): it says how many are
  // needed and how many there are. REQUIRES: T > 0.
  static Result<TokenBatches> Create(std::vector<int32_t> tokens, int64_t T, uint64_t seed);

  int64_t windows() const { return static_cast<int64_t>(order_.size()); }
  // Fills inputs and targets, (B, T) each, with the next B windows; and `windows` (B), when not
  // empty, with their indices w in [0, windows()) (what a per-window cache is keyed by).
  void Next(int64_t B, std::span<int32_t> inputs, std::span<int32_t> targets,
            std::span<int64_t> windows = {});
  // Windows handed out so far (across epochs).
  int64_t consumed() const { return consumed_; }

 private:
  TokenBatches(std::vector<int32_t> tokens, int64_t T, uint64_t seed);
  void Shuffle();

  std::vector<int32_t> tokens_;
  int64_t T_;
  SplitMix64 rng_;
  std::vector<int64_t> order_;
  int64_t cursor_ = 0, consumed_ = 0;
};

}  // namespace shrink::train
