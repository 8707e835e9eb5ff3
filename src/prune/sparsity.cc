#include "prune/sparsity.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/check.h"

namespace shrink {
namespace {

Result<int32_t> ParsePositive(std::string_view text, std::string_view whole) {
  int32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) {
    return Status::Errorf(
        "--pattern: expected N:M with positive integers N < M (e.g. 2:4), got "
        "\"{}\"",
        whole);
  }
  return v;
}

// Zeroes the k lowest-scoring entries among columns [begin, begin + len) of the row; returns the
// largest score removed (-1 when k == 0).
double ZeroLowest(std::span<float> row, std::span<const float> scale, int64_t begin, int64_t len,
                  int64_t k, std::vector<int32_t>& order) {
  if (k <= 0) return -1.0;
  auto score = [&](int32_t j) {
    const double w = std::fabs(static_cast<double>(row[j]));
    return scale.empty() ? w : w * scale[j];
  };
  order.resize(len);
  for (int64_t i = 0; i < len; ++i) order[i] = static_cast<int32_t>(begin + i);
  // Strict total order (score, column): the k smallest are one well-defined set.
  auto lower = [&](int32_t a, int32_t b) {
    const double sa = score(a), sb = score(b);
    return sa < sb || (sa == sb && a < b);
  };
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), lower);
  const double threshold = score(order[k - 1]);
  for (int64_t i = 0; i < k; ++i) row[order[i]] = 0.0f;
  return threshold;
}

}  // namespace

std::string_view PruneMethodName(PruneMethod method) {
  switch (method) {
    case PruneMethod::kWanda:
      return "wanda";
    case PruneMethod::kSparseGpt:
      return "sparsegpt";
    case PruneMethod::kMagnitude:
      break;
  }
  return "magnitude";
}

double SparsityTarget::removed_fraction() const {
  return pattern() ? 1.0 - static_cast<double>(n) / m : sparsity;
}

std::string SparsityTarget::Describe() const {
  return pattern() ? fmt::format("{}:{}", n, m) : fmt::format("{:g}%", sparsity * 100.0);
}

Status CheckSparsity(double sparsity) {
  if (!(sparsity >= 0.0 && sparsity < 1.0)) {
    return Status::Errorf("--sparsity: expected a fraction in [0, 1), got {}", sparsity);
  }
  return Status::Ok();
}

Result<SparsityTarget> ParsePattern(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Status::Errorf(
        "--pattern: expected N:M with positive integers N < M (e.g. 2:4), got "
        "\"{}\"",
        text);
  }
  SparsityTarget t;
  SHRINK_ASSIGN_OR_RETURN(t.n, ParsePositive(text.substr(0, colon), text));
  SHRINK_ASSIGN_OR_RETURN(t.m, ParsePositive(text.substr(colon + 1), text));
  if (t.n >= t.m) {
    return Status::Errorf(
        "--pattern {}: N must be less than M (keeping {} of every {} removes "
        "nothing)",
        text, t.n, t.m);
  }
  return t;
}

Status CheckPatternFits(const SparsityTarget& target, int64_t cols, std::string_view tensor) {
  if (target.pattern() && cols % target.m != 0) {
    return Status::Errorf("--pattern {}: {} has rows of {}, not whole groups of {}",
                          target.Describe(), tensor, cols, target.m);
  }
  return Status::Ok();
}

RowPruneStats PruneRow(std::span<float> row, std::span<const float> scale,
                       const SparsityTarget& target, std::vector<int32_t>& scratch) {
  const int64_t cols = static_cast<int64_t>(row.size());
  SHRINK_CHECK(scale.empty() || static_cast<int64_t>(scale.size()) == cols);
  RowPruneStats stats;
  if (target.pattern()) {
    SHRINK_CHECK(cols % target.m == 0);
    for (int64_t g = 0; g < cols; g += target.m) {
      stats.threshold = std::max(stats.threshold,
                                 ZeroLowest(row, scale, g, target.m, target.m - target.n, scratch));
    }
    stats.kept = cols / target.m * target.n;
    return stats;
  }
  const auto k = static_cast<int64_t>(std::floor(target.sparsity * static_cast<double>(cols)));
  stats.threshold = ZeroLowest(row, scale, 0, cols, k, scratch);
  stats.kept = cols - k;
  return stats;
}

}  // namespace shrink
