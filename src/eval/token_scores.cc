#include "eval/token_scores.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "eval/logits_file.h"

namespace shrink {
namespace {

static_assert(std::endian::native == std::endian::little, "base files are little-endian");

struct RowMax {
  float value;
  int32_t index;  // first index holding the maximum
};

RowMax FindMax(std::span<const float> logits) {
  RowMax m{logits[0], 0};
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > m.value) m = {logits[i], static_cast<int32_t>(i)};
  }
  return m;
}

// Σ exp(l_i − max): float terms, double sum (llama.cpp's choice; keeps 49k-term sums accurate).
double SumExp(std::span<const float> logits, float max_logit) {
  double sum = 0.0;
  for (float l : logits) sum += std::exp(l - max_logit);
  return sum;
}

float ReadF32(std::span<const uint16_t> row, int word) {
  float v;
  std::memcpy(&v, row.data() + word, sizeof(v));
  return v;
}

}  // namespace

Status CheckFiniteLogits(std::span<const float> logits, int64_t vocab, int64_t first_position) {
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) {
      return Status::Errorf(
          "logits at token position {} hold {} at vocabulary index {} (the model's weights or "
          "activations are not finite)",
          first_position + int64_t(i) / vocab, std::isnan(logits[i]) ? "NaN" : "an infinity",
          int64_t(i) % vocab);
    }
  }
  return Status::Ok();
}

double TokenNll(std::span<const float> logits, TokenId target) {
  SHRINK_CHECK(target >= 0 && static_cast<size_t>(target) < logits.size());
  const float max_logit = FindMax(logits).value;
  const double sum_exp = SumExp(logits, max_logit);
  const float shifted = logits[target] - max_logit;  // float, as in llama.cpp
  return -(shifted - std::log(sum_exp));
}

float EncodeLogProbs(std::span<const float> logits, TokenId target, std::span<uint16_t> row) {
  const size_t n_vocab = logits.size();
  SHRINK_CHECK(target >= 0 && static_cast<size_t>(target) < n_vocab);
  SHRINK_CHECK(row.size() == LogProbRowWords(static_cast<int32_t>(n_vocab)));
  const float max_logit = FindMax(logits).value;
  float min_logit = *std::min_element(logits.begin(), logits.end());
  // Log-probs more than 16 below the top are clamped: e^-16 ≈ 1e-7 is below what 16 bits resolve.
  min_logit = std::max(min_logit, max_logit - 16);
  const float log_sum_exp = static_cast<float>(std::log(SumExp(logits, max_logit)));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.f;
  std::memcpy(row.data(), &scale, sizeof(scale));
  std::memcpy(row.data() + 2, &min_log_prob, sizeof(min_log_prob));
  std::fill(row.begin() + 4, row.end(), uint16_t{0});
  if (scale != 0) {
    const float inv_scale = 1 / scale;
    for (size_t i = 0; i < n_vocab; ++i) {
      // Round half to even in float, then wrap to 16 bits (as llama.cpp's nearest_int + uint16
      // store).
      row[4 + i] = logits[i] > min_logit
                       ? static_cast<uint16_t>(std::lrintf(inv_scale * (logits[i] - min_logit)))
                       : uint16_t{0};
    }
  }
  return max_logit + log_sum_exp - logits[target];
}

float DecodedLogProb(std::span<const uint16_t> row, int32_t i) {
  return ReadF32(row, 0) * row[4 + i] + ReadF32(row, 2);
}

TokenComparison CompareWithBase(std::span<const float> logits, std::span<const uint16_t> base_row,
                                TokenId target) {
  const int32_t n_vocab = static_cast<int32_t>(logits.size());
  SHRINK_CHECK(target >= 0 && target < n_vocab);
  SHRINK_CHECK(base_row.size() == LogProbRowWords(n_vocab));
  const RowMax top = FindMax(logits);
  const float log_sum_exp = static_cast<float>(std::log(SumExp(logits, top.value)));
  const float scale = ReadF32(base_row, 0);
  const float min_log_prob = ReadF32(base_row, 2);
  const uint16_t* q = base_row.data() + 4;

  TokenComparison c;
  c.nll = top.value + log_sum_exp - logits[target];
  c.nll_base = -(scale * q[target] + min_log_prob);

  // log Q_i = logits_i − (max + log Σ); every product and difference in float, the sum in double.
  const float log_norm = top.value + log_sum_exp;
  double kld = 0;
  int32_t top_base = 0;
  float top_base_log_p = 0;
  for (int32_t i = 0; i < n_vocab; ++i) {
    const float log_p = scale * q[i] + min_log_prob;
    if (i == 0 || log_p > top_base_log_p) top_base_log_p = log_p, top_base = i;
    if (log_p > -16.f) {
      const float p = std::exp(log_p);
      const float term = p * (log_p - logits[i] + log_norm);
      kld += term;
    }
  }
  c.kld = kld;
  c.same_top = top.index == top_base;
  c.p_diff = std::exp(-c.nll) - std::exp(-c.nll_base);
  return c;
}

}  // namespace shrink
