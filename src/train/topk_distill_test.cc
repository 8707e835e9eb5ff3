// Top-k distillation (train/topk_distill.h): the selection against a sort done here, the bucketed
// KL against its definition computed here in F64 from the full softmax, k = V against the full KL
// of DistillForwardBackward, and the gradient against central differences
// (train/grad_check_test_util.h explains that tolerance).
#include "train/topk_distill.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "train/grad_check_test_util.h"

namespace shrink::train {
namespace {

using testing::ExpectGradient;
using testing::kU;
using testing::LossValue;
using testing::RandomVector;

// The teacher's top-k rows, owned.
struct TopK {
  int64_t k;
  std::vector<int32_t> ids;
  std::vector<float> log_p, log_rest;
  TeacherTopK View() const { return {k, ids.data(), log_p.data(), log_rest.data()}; }
};
TopK Select(const std::vector<float>& t, int64_t N, int64_t V, float tau, int64_t k) {
  TopK s{k, std::vector<int32_t>(N * k), std::vector<float>(N * k), std::vector<float>(N)};
  SelectTeacherTopK(t.data(), N, V, tau, k, s.ids.data(), s.log_p.data(), s.log_rest.data());
  return s;
}

// log softmax(x / tau) of one row, F64 from scratch.
std::vector<double> LogSoftmax(const float* x, int64_t V, double tau) {
  double mx = -INFINITY;
  for (int64_t v = 0; v < V; ++v) mx = std::max(mx, x[v] / tau);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(x[v] / tau - mx);
  std::vector<double> out(V);
  for (int64_t v = 0; v < V; ++v) out[v] = x[v] / tau - mx - std::log(sum);
  return out;
}

// A stored log-probability is F32 (a relative rounding of at most u), and its log-sum-exp adds
// the F32 rounding of each x_v / tau (train/log_sum_exp.h), at most u · max_v |x_v / tau|; twice
// both allowed.
double StoredTolerance(double value, const float* row, int64_t V, double tau) {
  double m = 0;
  for (int64_t v = 0; v < V; ++v) m = std::max(m, std::fabs(row[v] / tau));
  return 2 * kU * (std::fabs(value) + m) + 1e-12;
}

TEST(TopKDistillTest, SelectionOrderTiesAndRest) {
  const std::vector<float> row = {0.5f, 2.0f, -1.0f, 2.0f, 0.1f, 3.0f, 0.5f, -2.0f, 1.0f};
  const float tau = 2.0f;
  const TopK s = Select(row, 1, 9, tau, 4);
  // Descending; the tie at 2.0 keeps the lower id first.
  EXPECT_EQ(s.ids, (std::vector<int32_t>{5, 1, 3, 8}));
  const std::vector<double> lp = LogSoftmax(row.data(), 9, tau);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(s.log_p[i], lp[s.ids[i]], StoredTolerance(lp[s.ids[i]], row.data(), 9, tau)) << i;
  }
  double rest = 0;
  for (int v : {0, 2, 4, 6, 7}) rest += std::exp(lp[v]);
  EXPECT_NEAR(s.log_rest[0], std::log(rest), StoredTolerance(std::log(rest), row.data(), 9, tau));
  // k = V: every token, an empty rest.
  const TopK all = Select(row, 1, 9, tau, 9);
  EXPECT_EQ(all.ids, (std::vector<int32_t>{5, 1, 3, 8, 0, 6, 4, 2, 7}));
  EXPECT_EQ(all.log_rest[0], -INFINITY);
}

TEST(TopKDistillTest, SelectionMatchesASortOfRandomRows) {
  constexpr int64_t N = 5, V = 50, k = 7;
  const std::vector<float> t = RandomVector(N * V, 3, 3.0f);
  const TopK s = Select(t, N, V, 1.5f, k);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<int32_t> order(V);
    std::iota(order.begin(), order.end(), 0);
    const float* row = t.data() + n * V;
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    const std::vector<double> lp = LogSoftmax(row, V, 1.5);
    double rest = 0;
    for (int64_t i = k; i < V; ++i) rest += std::exp(lp[order[i]]);
    for (int64_t i = 0; i < k; ++i) {
      EXPECT_EQ(s.ids[n * k + i], order[i]) << n << " " << i;
      EXPECT_NEAR(s.log_p[n * k + i], lp[order[i]], StoredTolerance(lp[order[i]], row, V, 1.5));
    }
    EXPECT_NEAR(s.log_rest[n], std::log(rest), StoredTolerance(std::log(rest), row, V, 1.5));
  }
}

// The bucketed KL against its definition (header), every quantity from the full softmaxes in F64.
TEST(TopKDistillTest, ValueIsTheBucketedKl) {
  constexpr int64_t N = 3, V = 9, k = 3;
  const float tau = 2.0f;
  const std::vector<float> z = RandomVector(N * V, 11, 2.0f), t = RandomVector(N * V, 12, 2.0f);
  const TopK s = Select(t, N, V, tau, k);
  std::vector<float> work = z, kl(N), ce(N);
  TopKDistillForwardBackward(work.data(), kl.data(), ce.data(), s.View(), nullptr, N, V,
                             {.alpha = 1.0f, .tau = tau}, 1.0f);
  for (int64_t n = 0; n < N; ++n) {
    const std::vector<double> lp = LogSoftmax(t.data() + n * V, V, tau);
    const std::vector<double> lq = LogSoftmax(z.data() + n * V, V, tau);
    std::vector<bool> top(V, false);
    double expected = 0, p_rest = 0, q_rest = 0, full = 0;
    for (int64_t i = 0; i < k; ++i) top[s.ids[n * k + i]] = true;
    for (int64_t v = 0; v < V; ++v) {
      full += std::exp(lp[v]) * (lp[v] - lq[v]);
      if (top[v]) {
        expected += std::exp(lp[v]) * (lp[v] - lq[v]);
      } else {
        p_rest += std::exp(lp[v]);
        q_rest += std::exp(lq[v]);
      }
    }
    expected += p_rest * std::log(p_rest / q_rest);
    // The stored log p are F32 (relative u); the loss is F32 (relative u).
    EXPECT_NEAR(kl[n], tau * tau * expected, 1e-5 * (1 + expected)) << n;
    // Merging buckets never raises a KL (log-sum inequality).
    EXPECT_LE(kl[n], tau * tau * full * (1 + 1e-6)) << n;
  }
}

// k = V: no rest bucket, so the loss is DistillForwardBackward's full KL (+ CE). The only
// difference is the F32 rounding of the stored log p_v (|δ_v| <= u |log p_v|), which moves the
// row's KL by at most τ² Σ_v p_v |δ_v| |1 + log p_v - log q_v| and each gradient entry by at most
// τ (q_v Σ_u p_u |δ_u| + p_v |δ_v|) (through m = Σ p and p_v); both are allowed twice, plus the
// F32 rounding of the outputs.
TEST(TopKDistillTest, FullVocabularyIsTheFullKl) {
  constexpr int64_t N = 3, V = 9;
  for (const DistillLoss loss :
       {DistillLoss{.alpha = 1.0f, .tau = 2.0f}, DistillLoss{.alpha = 0.3f, .tau = 1.5f}}) {
    const float scale = 0.7f;
    const std::vector<float> z = RandomVector(N * V, 21, 2.0f), t = RandomVector(N * V, 22, 2.0f);
    const std::vector<int32_t> targets = {4, 0, 8};
    const TopK s = Select(t, N, V, loss.tau, V);
    std::vector<float> top = z, full = z, kl_top(N), ce_top(N), kl_full(N), ce_full(N);
    const DistillLossSums a = TopKDistillForwardBackward(
        top.data(), kl_top.data(), ce_top.data(), s.View(), targets.data(), N, V, loss, scale);
    const DistillLossSums b = DistillForwardBackward(full.data(), kl_full.data(), ce_full.data(),
                                                     t.data(), targets.data(), N, V, loss, scale);
    const double tau = loss.tau;
    for (int64_t n = 0; n < N; ++n) {
      const std::vector<double> lp = LogSoftmax(t.data() + n * V, V, tau);
      const std::vector<double> lq = LogSoftmax(z.data() + n * V, V, tau);
      double kl_bound = 0, p_delta = 0;
      for (int64_t v = 0; v < V; ++v) {
        const double delta = kU * std::fabs(lp[v]);
        kl_bound += std::exp(lp[v]) * delta * std::fabs(1 + lp[v] - lq[v]);
        p_delta += std::exp(lp[v]) * delta;
      }
      kl_bound = 2 * tau * tau * kl_bound + 2 * kU * std::fabs(kl_full[n]);
      EXPECT_NEAR(kl_top[n], kl_full[n], kl_bound) << n;
      EXPECT_EQ(ce_top[n], ce_full[n]) << n;
      for (int64_t v = 0; v < V; ++v) {
        const double g = full[n * V + v];
        const double bound =
            2 * scale * loss.alpha * tau *
                (std::exp(lq[v]) * p_delta + std::exp(lp[v]) * kU * std::fabs(lp[v])) +
            4 * kU * std::fabs(g) + 1e-9;
        EXPECT_NEAR(top[n * V + v], g, bound) << n << " " << v;
      }
    }
    EXPECT_NEAR(a.kl, b.kl, 1e-6 * (1 + std::fabs(b.kl)));
    EXPECT_EQ(a.ce, b.ce);
  }
}

void CheckTopKGradient(const DistillLoss& loss, int64_t k) {
  constexpr int64_t N = 3, V = 9;
  const float scale = 0.7f;
  std::vector<float> z = RandomVector(N * V, 31, 2.0f);
  const std::vector<float> t = RandomVector(N * V, 32, 2.0f);
  const std::vector<int32_t> targets = {4, 0, 8};
  const TopK s = Select(t, N, V, loss.tau, k);
  std::vector<float> kl(N), ce(N), dz = z;
  TopKDistillForwardBackward(dz.data(), kl.data(), ce.data(), s.View(), targets.data(), N, V, loss,
                             scale);
  ExpectGradient(
      "z", z, dz,
      [&] {
        std::vector<float> work = z;
        const DistillLossSums r = TopKDistillForwardBackward(
            work.data(), kl.data(), ce.data(), s.View(), targets.data(), N, V, loss, scale);
        const double value = scale * (loss.alpha * r.kl + (1.0 - loss.alpha) * r.ce);
        return LossValue{value, scale * (std::fabs(r.kl) + std::fabs(r.ce))};
      },
      V);
}

TEST(TopKDistillTest, GradientTopThreePlusCrossEntropy) {
  CheckTopKGradient({.alpha = 0.3f, .tau = 2.0f}, 3);
}
TEST(TopKDistillTest, GradientTopOneKlOnly) { CheckTopKGradient({.alpha = 1.0f, .tau = 1.0f}, 1); }
TEST(TopKDistillTest, GradientTopEight) { CheckTopKGradient({.alpha = 0.8f, .tau = 1.5f}, 8); }

// A student equal to the teacher has (to the F32 rounding of the stored log p) no loss and no
// gradient.
TEST(TopKDistillTest, StudentEqualToTeacher) {
  constexpr int64_t N = 3, V = 9, k = 4;
  const std::vector<float> t = RandomVector(N * V, 41, 2.0f);
  const TopK s = Select(t, N, V, 2.0f, k);
  std::vector<float> same = t, kl(N), ce(N);
  const DistillLossSums r =
      TopKDistillForwardBackward(same.data(), kl.data(), ce.data(), s.View(), nullptr, N, V,
                                 {.alpha = 1.0f, .tau = 2.0f}, 1.0f);
  EXPECT_NEAR(r.kl, 0.0, 1e-6);
  for (float d : same) EXPECT_NEAR(d, 0.0f, 1e-6f);
}

}  // namespace
}  // namespace shrink::train
