// Top-k teacher selection and the bucketed distillation loss (contracts in train/topk_distill.h).
// Rows run in parallel on the kernel thread pool; each row's result depends on that row only.
#include "train/topk_distill.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <vector>

#include "base/check.h"
#include "kernels/kernel_threads.h"
#include "train/log_sum_exp.h"

namespace shrink::train {

void SelectTeacherTopK(const float* logits, int64_t N, int64_t V, float tau, int64_t k,
                       int32_t* ids, float* log_p, float* log_rest) {
  SHRINK_CHECK(k >= 1 && k <= V && tau > 0.0f);
  KernelThreads().Run(N, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<int32_t> order(static_cast<size_t>(V));
    for (int64_t n = begin; n < end; ++n) {
      const float* row = logits + n * V;
      float mx;
      const double lse = LogSumExp(row, V, tau, &mx);
      std::iota(order.begin(), order.end(), 0);
      // Descending logit, the lower id first among equals: a strict weak order on finite values.
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int32_t a, int32_t b) {
        return row[a] > row[b] || (row[a] == row[b] && a < b);
      });
      for (int64_t i = 0; i < k; ++i) {
        const int32_t v = order[static_cast<size_t>(i)];
        ids[n * k + i] = v;
        log_p[n * k + i] = static_cast<float>(double{row[v]} / tau - lse);
      }
      // The rest's mass summed directly over the ids partial_sort left behind the first k.
      double rest = 0.0;
      for (int64_t i = k; i < V; ++i) {
        rest += std::exp(double{row[order[static_cast<size_t>(i)]]} / tau - lse);
      }
      log_rest[n] = rest > 0.0 ? static_cast<float>(std::log(rest)) : -INFINITY;
    }
  });
}

DistillLossSums TopKDistillForwardBackward(float* z, float* kl, float* ce,
                                           const TeacherTopK& teacher, const int32_t* targets,
                                           int64_t N, int64_t V, const DistillLoss& loss,
                                           float grad_scale) {
  SHRINK_CHECK(!loss.reverse && teacher.k >= 1 && teacher.k <= V);
  const int64_t k = teacher.k;
  const double tau = loss.tau, a = loss.alpha;
  const bool with_ce = loss.alpha != 1.0f;
  KernelThreads().Run(N, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<uint8_t> in_top(static_cast<size_t>(V), 0);
    std::vector<float> top_z(static_cast<size_t>(k));
    for (int64_t n = begin; n < end; ++n) {
      float* row = z + n * V;
      const int32_t* id = teacher.ids + n * k;
      const float* lp = teacher.log_p + n * k;
      const double log_rest = teacher.log_rest[n];
      float mz, m1;
      const double lse_z = LogSumExp(row, V, loss.tau, &mz);
      const double lse_1 = with_ce ? LogSumExp(row, V, 1.0f, &m1) : 0.0;
      double m = 0.0, div = 0.0;
      for (int64_t i = 0; i < k; ++i) {
        in_top[static_cast<size_t>(id[i])] = 1;
        top_z[static_cast<size_t>(i)] = row[id[i]];
        const double log_q = double{row[id[i]]} / tau - lse_z;
        const double p = std::exp(double{lp[i]});
        m += p;
        div += p * (double{lp[i]} - log_q);
      }
      // The rest bucket: P_R > 0 only when S is not the whole vocabulary.
      const double p_rest = std::exp(log_rest);
      double q_rest = 0.0;
      if (p_rest > 0.0) {
        for (int64_t v = 0; v < V; ++v) {
          if (!in_top[static_cast<size_t>(v)]) q_rest += std::exp(double{row[v]} / tau - lse_z);
        }
        q_rest = std::max(q_rest, DBL_MIN);
        m += p_rest;
        div += p_rest * (log_rest - std::log(q_rest));
      }
      kl[n] = static_cast<float>(tau * tau * div);
      ce[n] = with_ce ? static_cast<float>(lse_1 - row[targets[n]]) : 0.0f;
      // Every token as if outside S, then the k tokens of S rewritten from their saved logits.
      const double rest_ratio = p_rest > 0.0 ? p_rest / q_rest : 0.0;
      for (int64_t v = 0; v < V; ++v) {
        const double q = std::exp(double{row[v]} / tau - lse_z);
        const double dce = with_ce ? std::exp(double{row[v]} - lse_1) : 0.0;
        row[v] =
            static_cast<float>(grad_scale * (a * tau * q * (m - rest_ratio) + (1.0 - a) * dce));
      }
      for (int64_t i = 0; i < k; ++i) {
        const float zi = top_z[static_cast<size_t>(i)];
        const double q = std::exp(double{zi} / tau - lse_z);
        const double dce = with_ce ? std::exp(double{zi} - lse_1) : 0.0;
        const double dkl = tau * (m * q - std::exp(double{lp[i]}));
        row[id[i]] = static_cast<float>(grad_scale * (a * dkl + (1.0 - a) * dce));
        in_top[static_cast<size_t>(id[i])] = 0;
      }
      if (with_ce) row[targets[n]] -= static_cast<float>(grad_scale * (1.0 - a));
    }
  });
  return SumDistillLosses(kl, ce, N);
}

}  // namespace shrink::train
