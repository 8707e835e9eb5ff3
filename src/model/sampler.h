// Sampler: picks the next token from a row of logits.
//
//   temperature == 0: greedy, the arg max (the lowest id among equal maxima). No randomness.
//   temperature > 0:  p = softmax(logits / temperature) (F64), restricted to the smallest set of
//                     most probable tokens whose mass reaches top_p (nucleus sampling; top_p >= 1
//                     keeps all), then one draw.
// Determinism: draws come from std::mt19937_64 seeded with `seed`, converted to a uniform double in
// [0, 1) by taking the top 53 bits (not std::uniform_real_distribution, whose algorithm varies
// between standard libraries). Same logits, options and seed give the same tokens on every
// platform; ties in sorting are broken by token id.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "text/tokenizer.h"

namespace shrink {

struct SamplerOptions {
  float temperature = 0.0f;  // 0 = greedy
  float top_p = 1.0f;        // (0, 1]
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);
  // REQUIRES: logits non-empty.
  TokenId Sample(std::span<const float> logits);

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::pair<double, TokenId>> candidates_;
};

// The arg max of `logits` (lowest id on ties).
TokenId Argmax(std::span<const float> logits);

}  // namespace shrink
