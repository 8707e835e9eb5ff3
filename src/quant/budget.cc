#include "quant/budget.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "base/check.h"

namespace shrink {
namespace {

constexpr uint32_t kLlamaFtypeGuessed = 1024;  // llama.h LLAMA_FTYPE_GUESSED

// Per tensor, the candidate minimising loss + lambda·bytes (ties: fewer bytes, then less loss).
int PriceChoice(const TensorSensitivity& t, double lambda) {
  int best = 0;
  double best_cost = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < t.candidates.size(); ++c) {
    const CandidateLoss& k = t.candidates[c];
    const double cost = k.loss + lambda * static_cast<double>(k.bytes);
    const CandidateLoss& b = t.candidates[best];
    if (cost < best_cost ||
        (cost == best_cost && (k.bytes < b.bytes || (k.bytes == b.bytes && k.loss < b.loss)))) {
      best = static_cast<int>(c);
      best_cost = cost;
    }
  }
  return best;
}

uint64_t ChoiceBytes(std::span<const TensorSensitivity> tensors, const std::vector<int>& choice) {
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) total += tensors[i].candidates[choice[i]].bytes;
  return total;
}

std::vector<int> ChoiceAt(std::span<const TensorSensitivity> tensors, double lambda) {
  std::vector<int> choice(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) choice[i] = PriceChoice(tensors[i], lambda);
  return choice;
}

// Step 2: upgrades by the largest loss drop per added byte while one fits.
void GreedyFill(std::span<const TensorSensitivity> tensors, uint64_t budget,
                std::vector<int>& choice) {
  uint64_t used = ChoiceBytes(tensors, choice);
  for (;;) {
    double best_ratio = 0.0;
    size_t best_i = 0;
    int best_c = -1;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const CandidateLoss& cur = tensors[i].candidates[choice[i]];
      for (size_t c = 0; c < tensors[i].candidates.size(); ++c) {
        const CandidateLoss& k = tensors[i].candidates[c];
        if (k.bytes <= cur.bytes || k.loss >= cur.loss || k.bytes - cur.bytes > budget - used)
          continue;
        const double ratio = (cur.loss - k.loss) / static_cast<double>(k.bytes - cur.bytes);
        if (ratio > best_ratio) {
          best_ratio = ratio;
          best_i = i;
          best_c = static_cast<int>(c);
        }
      }
    }
    if (best_c < 0) return;
    used +=
        tensors[best_i].candidates[best_c].bytes - tensors[best_i].candidates[choice[best_i]].bytes;
    choice[best_i] = best_c;
  }
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  const auto bad = [&] {
    return Status::Errorf(
        "size '{}' is not a positive size: give a number with an optional unit B, kB, MB, GB "
        "(powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. 60MB",
        text);
  };
  size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) {
    ++end;
  }
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, value);
  if (end == 0 || ec != std::errc() || ptr != text.data() + end || !std::isfinite(value) ||
      value <= 0.0) {
    return bad();
  }
  std::string unit;
  for (char c : text.substr(end))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, double> kUnits = {
      {"", 1.0},   {"b", 1.0},      {"kb", 1e3},        {"mb", 1e6},
      {"gb", 1e9}, {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}};
  const auto it = kUnits.find(unit);
  if (it == kUnits.end()) return bad();
  const double bytes = std::floor(value * it->second);
  if (bytes < 1.0 || bytes > 9.0e18) return bad();
  return static_cast<uint64_t>(bytes);
}

Result<BudgetSolution> SolveBudget(std::span<const TensorSensitivity> tensors,
                                   uint64_t budget_bytes) {
  BudgetSolution out;
  double lambda_all_min = 0.0;  // a price at which every tensor takes its fewest bytes
  for (const TensorSensitivity& t : tensors) {
    SHRINK_CHECK(!t.candidates.empty());
    const CandidateLoss* least_bytes = &t.candidates[0];
    for (const CandidateLoss& c : t.candidates) {
      if (c.bytes < least_bytes->bytes ||
          (c.bytes == least_bytes->bytes && c.loss < least_bytes->loss)) {
        least_bytes = &c;
      }
    }
    out.min_bytes += least_bytes->bytes;
    for (const CandidateLoss& c : t.candidates) {
      if (c.bytes > least_bytes->bytes && c.loss < least_bytes->loss) {
        lambda_all_min =
            std::max(lambda_all_min, (least_bytes->loss - c.loss) /
                                         static_cast<double>(c.bytes - least_bytes->bytes));
      }
    }
  }
  if (budget_bytes < out.min_bytes) {
    return Status::Errorf(
        "the budget of {} bytes for the matrices is below the smallest possible: every matrix at "
        "its smallest type needs at least {} bytes",
        budget_bytes, out.min_bytes);
  }
  std::vector<int> choice = ChoiceAt(tensors, 0.0);
  out.max_bytes = ChoiceBytes(tensors, choice);
  if (budget_bytes >= out.max_bytes) {
    out.capped = true;
  } else {
    // Bytes(λ) is nonincreasing; find the least λ whose choice fits.
    double lo = 0.0, hi = 2.0 * lambda_all_min + std::numeric_limits<double>::min();
    while (ChoiceBytes(tensors, ChoiceAt(tensors, hi)) > budget_bytes) hi *= 2.0;
    for (int iter = 0; iter < 200 && lo < hi; ++iter) {
      const double mid = lo + (hi - lo) / 2.0;
      if (mid <= lo || mid >= hi) break;
      if (ChoiceBytes(tensors, ChoiceAt(tensors, mid)) <= budget_bytes) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    out.lambda = hi;
    choice = ChoiceAt(tensors, hi);
    GreedyFill(tensors, budget_bytes, choice);
  }
  out.choice = std::move(choice);
  out.bytes = ChoiceBytes(tensors, out.choice);
  for (size_t i = 0; i < tensors.size(); ++i) out.loss += tensors[i].candidates[out.choice[i]].loss;
  return out;
}

QuantMix BudgetMix(TensorType base) {
  QuantMix mix{.name = "budget", .llama_ftype = kLlamaFtypeGuessed, .base = base, .rules = {}};
  const Result<const QuantMix*> named = FindMix(Traits(base).name);
  if (named.ok()) mix.llama_ftype = (*named)->llama_ftype;
  return mix;
}

QuantPlan BudgetPlan(const Config& config, std::span<const TensorView* const> tensors,
                     std::span<const TensorSensitivity> sensitivities,
                     const BudgetSolution& solution, bool with_imatrix, QuantMix& mix) {
  SHRINK_CHECK(solution.choice.size() == sensitivities.size());
  std::map<const TensorView*, size_t> index;
  for (size_t i = 0; i < sensitivities.size(); ++i) index[sensitivities[i].tensor] = i;
  QuantPlan plan;
  plan.with_imatrix = with_imatrix;
  plan.n_layers = config.n_layers;
  std::map<TensorType, int64_t> elements;
  for (const TensorView* t : tensors) {
    SHRINK_CHECK(t != nullptr && !t->shape.empty());
    TensorPlan p;
    p.source = t;
    if (t->shape.size() == 1) {
      p.rule = TensorPlan::kVector;
      p.chosen = p.type = TensorType::kF32;
      p.bytes = static_cast<uint64_t>(t->element_count()) * 4;
    } else {
      const auto it = index.find(t);
      SHRINK_CHECK(it != index.end());
      const CandidateLoss& c = sensitivities[it->second].candidates[solution.choice[it->second]];
      p.rule = TensorPlan::kBudget;
      p.chosen = p.type = c.type;
      p.bytes = c.bytes;
      p.proxy_loss = c.loss;
      elements[c.type] += t->element_count();
    }
    plan.tensors.push_back(p);
  }
  TensorType base = TensorType::kF32;
  int64_t most = -1;
  for (const auto& [type, n] : elements) {
    if (n > most) {
      most = n;
      base = type;
    }
  }
  mix = BudgetMix(base);
  plan.mix = &mix;
  return plan;
}

}  // namespace shrink
