// Size budgets (quant/budget.h): byte sizes as users write them, and the knapsack checked against
// exhaustive enumeration (an independent solver) on small random instances.
#include "quant/budget.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

namespace shrink {
namespace {

TEST(ParseByteSize, UnitsAsUsersWriteThem) {
  EXPECT_EQ(*ParseByteSize("60MB"), 60'000'000u);
  EXPECT_EQ(*ParseByteSize("60mb"), 60'000'000u);
  EXPECT_EQ(*ParseByteSize("58MiB"), 58u * 1024 * 1024);
  EXPECT_EQ(*ParseByteSize("1.5GB"), 1'500'000'000u);
  EXPECT_EQ(*ParseByteSize("500kB"), 500'000u);
  EXPECT_EQ(*ParseByteSize("123456"), 123456u);
  EXPECT_EQ(*ParseByteSize("123456B"), 123456u);
  for (const char* bad : {"", "MB", "-5MB", "5XB", "0", "1.2.3MB", "abc", "0.0001B"}) {
    const Result<uint64_t> r = ParseByteSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("60MB"), std::string::npos) << r.status().message();
  }
}

using Instance = std::vector<TensorSensitivity>;

// Random tensors with 2-5 candidates of increasing bytes and (mostly) decreasing loss; some
// candidates are dominated (more bytes, more loss), as an off-hull type can be.
Instance RandomInstance(std::mt19937& rng, int tensors) {
  std::uniform_int_distribution<int> n_cand(2, 5), step(1, 40);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Instance out(tensors);
  for (TensorSensitivity& t : out) {
    uint64_t bytes = static_cast<uint64_t>(step(rng));
    double loss = 10.0 + 10.0 * u(rng);
    for (int c = n_cand(rng); c > 0; --c) {
      t.candidates.push_back({TensorType::kQ4_0, bytes, loss});
      bytes += static_cast<uint64_t>(step(rng));
      loss *= u(rng) < 0.15 ? 1.2 : 0.2 + 0.7 * u(rng);
    }
  }
  return out;
}

// The least total loss with Σ bytes <= budget, by enumerating every choice.
double BruteForce(const Instance& s, uint64_t budget) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> idx(s.size(), 0);
  for (;;) {
    uint64_t bytes = 0;
    double loss = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      bytes += s[i].candidates[idx[i]].bytes;
      loss += s[i].candidates[idx[i]].loss;
    }
    if (bytes <= budget) best = std::min(best, loss);
    size_t i = 0;
    while (i < s.size() && ++idx[i] == s[i].candidates.size()) idx[i++] = 0;
    if (i == s.size()) return best;
  }
}

// The Lagrangian choice is optimal for its own byte total, which lies within one tensor's step
// of the budget (ties in price are improbable with random losses); the greedy fill only lowers
// the loss. So the result fits, is never better than the optimum at the budget, and never worse
// than the optimum at the budget less the largest step.
TEST(SolveBudget, WithinOneStepOfExhaustiveOptimum) {
  std::mt19937 rng(7);
  int exact = 0, cases = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const Instance s = RandomInstance(rng, 2 + trial % 5);
    uint64_t lo = 0, hi = 0, max_step = 0;
    for (const TensorSensitivity& t : s) {
      uint64_t mn = UINT64_MAX, mx = 0;
      for (const CandidateLoss& c : t.candidates)
        mn = std::min(mn, c.bytes), mx = std::max(mx, c.bytes);
      lo += mn, hi += mx, max_step = std::max(max_step, mx - mn);
    }
    const uint64_t budget = lo + (hi - lo) * static_cast<uint64_t>(trial % 10) / 10;
    const Result<BudgetSolution> r = SolveBudget(s, budget);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_LE(r->bytes, budget);
    const double opt = BruteForce(s, budget);
    const double opt_less = BruteForce(s, budget >= lo + max_step ? budget - max_step : lo);
    EXPECT_GE(r->loss, opt * (1 - 1e-12));
    EXPECT_LE(r->loss, opt_less * (1 + 1e-12)) << "trial " << trial;
    ++cases;
    exact += r->loss <= opt * (1 + 1e-12) ? 1 : 0;
  }
  // Not a bound, a sanity check that the fill does its job: most instances reach the optimum.
  EXPECT_GT(exact, cases * 3 / 4) << exact << " of " << cases;
}

TEST(SolveBudget, BelowMinimumNamesIt) {
  Instance s(2);
  s[0].candidates = {{TensorType::kQ4_0, 10, 5.0}, {TensorType::kQ8_0, 20, 1.0}};
  s[1].candidates = {{TensorType::kQ4_0, 7, 5.0}, {TensorType::kQ8_0, 14, 1.0}};
  const Result<BudgetSolution> r = SolveBudget(s, 16);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at least 17 bytes"), std::string::npos)
      << r.status().message();
  const Result<BudgetSolution> at_min = SolveBudget(s, 17);
  ASSERT_TRUE(at_min.ok());
  EXPECT_EQ(at_min->bytes, 17u);
  EXPECT_DOUBLE_EQ(at_min->loss, 10.0);
}

TEST(SolveBudget, AboveLargestUsefulTakesLeastLoss) {
  Instance s(2);
  // The third candidate costs more and loses more: never worth it.
  s[0].candidates = {
      {TensorType::kQ4_0, 10, 5.0}, {TensorType::kQ8_0, 20, 1.0}, {TensorType::kF16, 40, 2.0}};
  s[1].candidates = {{TensorType::kQ4_0, 7, 5.0}, {TensorType::kQ8_0, 14, 0.5}};
  const Result<BudgetSolution> r = SolveBudget(s, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->capped);
  EXPECT_EQ(r->max_bytes, 34u);
  EXPECT_EQ(r->bytes, 34u);
  EXPECT_DOUBLE_EQ(r->loss, 1.5);
  // One byte short of that: tensor 0 gains less per byte ((5 − 1)/10 < (5 − 0.5)/7), so it gives
  // way: 10 + 14 = 24 bytes, loss 5.5 (the other way round, 20 + 7 bytes, would lose 6).
  const Result<BudgetSolution> short_by_one = SolveBudget(s, 33);
  ASSERT_TRUE(short_by_one.ok());
  EXPECT_FALSE(short_by_one->capped);
  EXPECT_EQ(short_by_one->bytes, 24u);
  EXPECT_DOUBLE_EQ(short_by_one->loss, 5.5);
}

TEST(BudgetMix, BorrowsTheFileTypeOfItsBase) {
  EXPECT_EQ(BudgetMix(TensorType::kQ4_0).llama_ftype, 2u);  // llama.h LLAMA_FTYPE_MOSTLY_Q4_0
  EXPECT_EQ(BudgetMix(TensorType::kQ8_0).llama_ftype, 7u);  // LLAMA_FTYPE_MOSTLY_Q8_0
  EXPECT_EQ(BudgetMix(TensorType::kQ4_0).name, "budget");
}

}  // namespace
}  // namespace shrink
