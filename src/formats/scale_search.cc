#include "formats/scale_search.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>

#include "base/check.h"

// Byte-compatibility with ggml rests on evaluating every sum and product in the same order and
// precision: products are written left to right as ggml groups them (w * x * q is (w * x) * q, but
// the affine search's w * q * x is (w * q) * x), sums run from element 0 upwards, and nothing is
// fused (-ffp-contract=off for this layer).

namespace shrink {
namespace {

constexpr int kMaxGroup = 32;  // the largest group any encoder searches (a 32-element sub-block)

float WeightAt(const float* x, const float* w, int i) { return w != nullptr ? w[i] : x[i] * x[i]; }

int Clamp(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

// The signed value of largest magnitude (the first one on ties) and that magnitude.
void SignedExtreme(const float* x, int n, float& max, float& amax) {
  max = 0;
  amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
}

// For codes q_i = clamp(round(inv_step * x_i), -nmax, nmax - 1): the weighted sums sum w x q and
// sum w q^2 whose ratio is the least-squares step, and (unless `codes` is null) the codes
// q + code_offset.
void SymmetricSums(const float* x, const float* w, int n, int nmax, float inv_step, float& sum_xq,
                   float& sum_q2, int8_t* codes, int code_offset) {
  sum_xq = 0;
  sum_q2 = 0;
  for (int i = 0; i < n; ++i) {
    const int q = Clamp(RoundHalfToEven(inv_step * x[i]), -nmax, nmax - 1);
    if (codes != nullptr) codes[i] = static_cast<int8_t>(q + code_offset);
    const float wi = WeightAt(x, w, i);
    sum_xq += wi * x[i] * static_cast<float>(q);
    sum_q2 += wi * static_cast<float>(q) * static_cast<float>(q);
  }
}

// Coordinate descent on the codes of a scale-only grid (y = s * q), keeping the least-squares step
// s = sum_xq / sum_q2 implicit: the fit's error is sum w x^2 - sum_xq^2 / sum_q2, so a move helps
// exactly when it raises sum_xq^2 / sum_q2. For each element in turn, the rest of the group
// suggests the step (sum_xq - its term) / (sum_q2 - its term); the element's code moves to x_i
// divided by that step (rounded, clamped to [lo, hi]) if that raises the gain. Up to 5 sweeps,
// stopping after a sweep with no move. Elements are only tried when the rest's sum w x q is
// positive; `rest_needs_weight` also skips them when the rest's sum w q^2 is not positive (the
// positive-scale search does, the Q3_K one checks that only after the move).
template <typename Code>
void RefineCodes(const float* x, const float* w, int n, int lo, int hi, bool rest_needs_weight,
                 Code* q, float& sum_xq, float& sum_q2) {
  for (int sweep = 0; sweep < 5; ++sweep) {
    int moved = 0;
    for (int i = 0; i < n; ++i) {
      const auto qi = static_cast<float>(q[i]);
      float rest_xq = sum_xq - w[i] * x[i] * qi;
      float rest_q2 = sum_q2 - w[i] * qi * qi;
      if (!(rest_xq > 0) || (rest_needs_weight && !(rest_q2 > 0))) continue;
      const int candidate = Clamp(RoundHalfToEven(x[i] * rest_q2 / rest_xq), lo, hi);
      if (candidate == static_cast<int>(q[i])) continue;
      const auto c = static_cast<float>(candidate);
      rest_xq += w[i] * x[i] * c;
      rest_q2 += w[i] * c * c;
      if (rest_q2 > 0 && rest_xq * rest_xq * sum_q2 > sum_xq * sum_xq * rest_q2) {
        q[i] = static_cast<Code>(candidate);
        sum_xq = rest_xq;
        sum_q2 = rest_q2;
        ++moved;
      }
    }
    if (moved == 0) break;
  }
}

}  // namespace

int RoundHalfToEven(float v) {
  // 1.5 * 2^23: adding it leaves bit 22 of the mantissa set for any |v| < 2^22, so the low 23 bits
  // minus 2^22 are the rounded value in two's complement.
  const float shifted = v + 12582912.0f;
  const auto bits = std::bit_cast<int32_t>(shifted);
  return (bits & 0x007fffff) - 0x00400000;
}

void ImportanceWeights(const float* x, const float* w, int n, float sigma2, float* out) {
  for (int i = 0; i < n; ++i) out[i] = w[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

float FitSymmetricScale(const float* x, const float* w, int n, int nmax, int8_t* codes) {
  float max, amax;
  SignedExtreme(x, n, max, amax);
  if (amax < kZeroGroupMax) {
    std::fill(codes, codes + n, int8_t{0});
    return 0;
  }
  float sum_xq, sum_q2;
  SymmetricSums(x, w, n, nmax, static_cast<float>(-nmax) / max, sum_xq, sum_q2, codes, nmax);
  float step = sum_q2 != 0 ? sum_xq / sum_q2 : 0.0f;
  float best_gain = step * sum_xq;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    const float inv_step = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / max;
    SymmetricSums(x, w, n, nmax, inv_step, sum_xq, sum_q2, nullptr, 0);
    // gain sum_xq^2 / sum_q2 > best_gain, without dividing.
    if (sum_q2 > 0 && sum_xq * sum_xq > best_gain * sum_q2) {
      SymmetricSums(x, w, n, nmax, inv_step, sum_xq, sum_q2, codes, nmax);
      step = sum_xq / sum_q2;
      best_gain = step * sum_xq;
    }
  }
  return step;
}

float FitSymmetricScaleRefined(const float* x, int n, int nmax, int8_t* codes) {
  float max, amax;
  SignedExtreme(x, n, max, amax);
  if (amax < kZeroGroupMax) {
    std::fill(codes, codes + n, int8_t{0});
    return 0;
  }
  SHRINK_CHECK(n <= kMaxGroup);
  float w[kMaxGroup];
  for (int i = 0; i < n; ++i) w[i] = x[i] * x[i];
  // Signed codes while refining; offset by nmax at the end.
  float sum_xq, sum_q2;
  SymmetricSums(x, w, n, nmax, static_cast<float>(-nmax) / max, sum_xq, sum_q2, codes, 0);
  RefineCodes(x, w, n, -nmax, nmax - 1, /*rest_needs_weight=*/false, codes, sum_xq, sum_q2);
  for (int i = 0; i < n; ++i) codes[i] = static_cast<int8_t>(codes[i] + nmax);
  return sum_q2 > 0.0f ? sum_xq / sum_q2 : 0.0f;
}

float FitScaleAndMin(const float* x, const float* w, int n, int nmax, const AffineSearchGrid& grid,
                     uint8_t* codes, float* neg_min) {
  float min = x[0], max = x[0];
  float sum_w = WeightAt(x, w, 0);
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float wi = WeightAt(x, w, i);
    sum_w += wi;
    sum_x += wi * x[i];
  }
  if (min > 0) min = 0;  // the grid reaches down to zero: a positive group needs no offset
  if (max <= min) {      // constant (non-positive) group
    std::fill(codes, codes + n, uint8_t{0});
    *neg_min = -min;
    return 0;
  }
  const float fnmax = static_cast<float>(nmax);
  // E of a grid (step, offset) with the given codes.
  auto error_of = [&](float step, float offset, const uint8_t* q) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      float diff = step * static_cast<float>(q[i]) + offset - x[i];
      diff = grid.absolute_error ? std::fabs(diff) : diff * diff;
      e += WeightAt(x, w, i) * diff;
    }
    return e;
  };
  // The min-max grid.
  float inv_step = fnmax / (max - min);
  float step = 1 / inv_step;
  for (int i = 0; i < n; ++i) {
    codes[i] = static_cast<uint8_t>(Clamp(RoundHalfToEven(inv_step * (x[i] - min)), 0, nmax));
  }
  float best_error = error_of(step, min, codes);
  SHRINK_CHECK(n <= kMaxGroup);
  uint8_t trial[kMaxGroup];
  for (int k = 0; k <= grid.steps; ++k) {
    inv_step = (grid.first_offset + grid.offset_step * static_cast<float>(k) + fnmax) / (max - min);
    float sum_q = 0, sum_q2 = 0, sum_xq = 0;
    for (int i = 0; i < n; ++i) {
      const int q = Clamp(RoundHalfToEven(inv_step * (x[i] - min)), 0, nmax);
      trial[i] = static_cast<uint8_t>(q);
      const float wi = WeightAt(x, w, i);
      const auto fq = static_cast<float>(q);
      sum_q += wi * fq;
      sum_q2 += wi * fq * fq;
      sum_xq += wi * fq * x[i];
    }
    // Weighted least squares for x ≈ s * q + offset: the 2x2 normal equations by Cramer's rule.
    const float det = sum_w * sum_q2 - sum_q * sum_q;
    if (!(det > 0)) continue;
    float trial_step = (sum_w * sum_xq - sum_x * sum_q) / det;
    float trial_offset = (sum_q2 * sum_x - sum_q * sum_xq) / det;
    if (trial_offset > 0) {  // the grid must reach zero: fit the step alone with offset 0
      trial_offset = 0;
      trial_step = sum_xq / sum_q2;
    }
    const float e = error_of(trial_step, trial_offset, trial);
    if (e < best_error) {
      std::copy(trial, trial + n, codes);
      best_error = e;
      step = trial_step;
      min = trial_offset;
    }
  }
  *neg_min = -min;
  return step;
}

float FitPositiveScale(const float* x, const float* w, int n, int nmax, uint8_t* codes) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max < kZeroGroupMax) {
    std::fill(codes, codes + n, uint8_t{0});
    return 0;
  }
  const float fnmax = static_cast<float>(nmax);
  // Weighted squared error of the grid with reciprocal step inv_step and codes q_i (clamped above).
  // The first candidate's codes are stored as bytes before its error is measured (as ggml does);
  // the others' are clamped to nmax instead. Both agree for x >= 0, where codes are 0..nmax.
  auto error_of = [&](float inv_step, bool first) {
    const float step = 1 / inv_step;
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const int q = RoundHalfToEven(inv_step * x[i]);
      const int code = first ? static_cast<uint8_t>(q) : std::min(nmax, q);
      const float diff = x[i] - step * static_cast<float>(code);
      e += w[i] * diff * diff;
    }
    return e;
  };
  float inv_step = fnmax / max;
  float best_error = error_of(inv_step, true);
  for (int k = -4; k <= 4; ++k) {
    if (k == 0) continue;
    const float candidate = (0.1f * static_cast<float>(k) + fnmax) / max;
    const float e = error_of(candidate, false);
    if (e < best_error) {
      best_error = e;
      inv_step = candidate;
    }
  }
  float sum_xq = 0, sum_q2 = 0;
  for (int i = 0; i < n; ++i) {
    const int q = std::min(nmax, RoundHalfToEven(inv_step * x[i]));
    codes[i] = static_cast<uint8_t>(q);
    const auto fq = static_cast<float>(q);
    sum_xq += w[i] * x[i] * fq;
    sum_q2 += w[i] * fq * fq;
  }
  RefineCodes(x, w, n, INT_MIN, nmax, /*rest_needs_weight=*/true, codes, sum_xq, sum_q2);
  return sum_q2 > 0.0f ? sum_xq / sum_q2 : 0.0f;
}

}  // namespace shrink
