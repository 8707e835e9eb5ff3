#include "formats/exact_scale.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "formats/block_grid.h"
#include "formats/scale_search.h"

namespace shrink {
namespace {

struct Crossing {
  float t;  // 1/s at which element `index` moves to the next level outward
  int index;
  int8_t direction;  // +1: to the next higher level, -1: to the next lower
};

// Best gain A^2 / B over the sweep of t = 1/s > 0 with ascending `levels`; writes its step A / B.
double SweepPositiveSteps(const float* x, const float* w, int n, std::span<const float> levels,
                          std::vector<Crossing>& crossings, float* best_step) {
  const int count = static_cast<int>(levels.size());
  int zero = 0;  // the level nearest 0: every code as t -> 0+
  for (int k = 1; k < count; ++k) {
    if (std::abs(levels[k]) < std::abs(levels[zero])) zero = k;
  }
  crossings.clear();
  double a = 0, b = 0;  // A = sum w x L[c], B = sum w L[c]^2
  for (int i = 0; i < n; ++i) {
    a += double(w[i]) * x[i] * levels[zero];
    b += double(w[i]) * levels[zero] * levels[zero];
    if (x[i] > 0) {
      for (int k = zero; k + 1 < count; ++k) {
        crossings.push_back({0.5f * (levels[k] + levels[k + 1]) / x[i], i, +1});
      }
    } else if (x[i] < 0) {
      for (int k = zero - 1; k >= 0; --k) {
        crossings.push_back({0.5f * (levels[k] + levels[k + 1]) / x[i], i, -1});
      }
    }
  }
  // Increasing t, ties by element: the order a stable sort of the insertion order (element by
  // element, each element's crossings in increasing t) gives, so the sums below add in the same
  // order and the step is the same to the bit. std::sort with the full key instead of
  // std::stable_sort: no temporary buffer per call, and it was a quarter of `quantize --method awq
  // --rounding exact`'s time (perf).
  std::sort(crossings.begin(), crossings.end(), [](const Crossing& p, const Crossing& q) {
    return p.t < q.t || (p.t == q.t && p.index < q.index);
  });
  std::vector<int> code(n, zero);
  double best_gain = 0;
  *best_step = 0;
  const auto consider = [&] {
    if (b > 0 && a > 0 && a * a / b > best_gain) {
      best_gain = a * a / b;
      *best_step = static_cast<float>(a / b);
    }
  };
  consider();
  for (size_t e = 0; e < crossings.size(); ++e) {
    const Crossing& c = crossings[e];
    const int i = c.index;
    const double from = levels[code[i]];
    code[i] += c.direction;
    const double to = levels[code[i]];
    a += double(w[i]) * x[i] * (to - from);
    b += double(w[i]) * (to * to - from * from);
    // Evaluate once all crossings at this t are applied: between two t's the codes are fixed.
    if (e + 1 == crossings.size() || crossings[e + 1].t != c.t) consider();
  }
  return best_gain;
}

}  // namespace

int NearestLevel(float v, std::span<const float> levels) {
  const auto it = std::lower_bound(levels.begin(), levels.end(), v);
  if (it == levels.begin()) return 0;
  if (it == levels.end()) return static_cast<int>(levels.size()) - 1;
  const int hi = static_cast<int>(it - levels.begin());
  return (v - levels[hi - 1] <= levels[hi] - v) ? hi - 1 : hi;
}

float FitScaleExactly(const float* x, const float* w, int n, std::span<const float> levels) {
  std::vector<Crossing> crossings;
  float positive_step = 0, negative_step = 0;
  const double positive_gain = SweepPositiveSteps(x, w, n, levels, crossings, &positive_step);
  // s < 0 is s' = -s > 0 over the mirrored levels -L (reversed to stay ascending).
  std::vector<float> mirrored(levels.rbegin(), levels.rend());
  for (float& l : mirrored) l = -l;
  const double negative_gain = SweepPositiveSteps(x, w, n, mirrored, crossings, &negative_step);
  return negative_gain > positive_gain ? -negative_step : positive_step;
}

bool HasExactScaleEncoder(const TypeTraits& type) {
  return type.grid != nullptr && type.grid->set_scale != nullptr;
}

void EncodeRowExactScale(const TypeTraits& type, const float* in, uint8_t* blocks, int64_t n,
                         const float* importance) {
  SHRINK_CHECK(HasExactScaleEncoder(type) && n % type.block_elements == 0);
  const BlockGrid& grid = *type.grid;
  const int block_elements = static_cast<int>(type.block_elements);
  std::vector<float> levels(static_cast<size_t>(grid.n_levels) * block_elements);
  // The level table at unit step (the same for every element of a one-scale format).
  std::vector<uint8_t> probe(type.block_bytes, 0);
  grid.set_scale(probe.data(), 1.0f);
  grid.levels(probe.data(), levels.data());
  std::vector<float> unit(grid.n_levels);
  for (int q = 0; q < grid.n_levels; ++q) unit[q] = levels[static_cast<size_t>(q) * block_elements];

  double sum_squares = 0;
  for (int64_t i = 0; i < n; ++i) sum_squares += double(in[i]) * in[i];
  const float row_mean_square = n > 0 ? static_cast<float>(sum_squares / n) : 0.0f;
  std::vector<float> ones(block_elements, 1.0f), weights(block_elements);
  for (int64_t b = 0; b < n / block_elements; ++b) {
    const float* x = in + b * block_elements;
    const float* imp = importance != nullptr ? importance + b * block_elements : ones.data();
    ImportanceWeights(x, imp, block_elements, row_mean_square, weights.data());
    uint8_t* block = blocks + b * type.block_bytes;
    std::memset(block, 0, type.block_bytes);
    grid.set_scale(block, FitScaleExactly(x, weights.data(), block_elements, unit));
    grid.levels(block, levels.data());  // under the step as stored (F16)
    for (int e = 0; e < block_elements; ++e) {
      RoundElement(grid, levels.data(), block_elements, block, e, x[e]);
    }
  }
}

}  // namespace shrink
