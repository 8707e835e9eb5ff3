// Losses over logits, each fused with its backward (contracts in train/ops.h): the logits buffer
// is the largest activation ((N, V), V up to 256k), so the gradient overwrites it instead of
// taking a second one. Rows run in parallel on the kernel thread pool; each row's result depends
// on that row only, so the thread count does not change any value. The per-row sums are F64 so a
// 50k-wide softmax loses no precision to its summation order.
#include <cmath>

#include "kernels/kernel_threads.h"
#include "train/log_sum_exp.h"
#include "train/ops.h"

namespace shrink::train {

double CrossEntropyForwardBackward(float* z, float* losses, const int32_t* targets, int64_t N,
                                   int64_t V, float grad_scale) {
  KernelThreads().Run(N, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      float* row = z + n * V;
      float mx;
      const double lse = LogSumExp(row, V, 1.0f, &mx);
      losses[n] = static_cast<float>(lse - row[targets[n]]);
      for (int64_t v = 0; v < V; ++v) {
        row[v] = grad_scale * static_cast<float>(std::exp(double{row[v]} - lse));
      }
      row[targets[n]] -= grad_scale;
    }
  });
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) total += losses[n];
  return total;
}

double KlDivergenceForwardBackward(float* z, float* losses, const float* teacher, int64_t N,
                                   int64_t V, float tau, float grad_scale) {
  KernelThreads().Run(N, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      float* row = z + n * V;
      const float* trow = teacher + n * V;
      float mz, mt;
      const double lse_z = LogSumExp(row, V, tau, &mz);
      const double lse_t = LogSumExp(trow, V, tau, &mt);
      double kl = 0.0;
      for (int64_t v = 0; v < V; ++v) {
        const double log_p = double{trow[v] / tau} - lse_t;
        const double log_q = double{row[v] / tau} - lse_z;
        const double p = std::exp(log_p);
        kl += p * (log_p - log_q);
        // d(tau² KL)/dz_v = tau² · (q_v - p_v) / tau
        row[v] = grad_scale * static_cast<float>(tau * (std::exp(log_q) - p));
      }
      losses[n] = static_cast<float>(double{tau} * tau * kl);
    }
  });
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) total += losses[n];
  return total;
}

DistillLossSums DistillForwardBackward(float* z, float* kl, float* ce, const float* teacher,
                                       const int32_t* targets, int64_t N, int64_t V,
                                       const DistillLoss& loss, float grad_scale) {
  const double tau = loss.tau, a = loss.alpha;
  const bool with_ce = loss.alpha != 1.0f;
  KernelThreads().Run(N, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      float* row = z + n * V;
      const float* trow = teacher + n * V;
      float mz, mt, m1;
      const double lse_z = LogSumExp(row, V, loss.tau, &mz);
      const double lse_t = LogSumExp(trow, V, loss.tau, &mt);
      const double lse_1 = with_ce ? LogSumExp(row, V, 1.0f, &m1) : 0.0;
      // Reverse KL's gradient needs the row's KL first: one extra pass over the row.
      double div = 0.0;
      for (int64_t v = 0; v < V; ++v) {
        const double log_p = double{trow[v]} / tau - lse_t;
        const double log_q = double{row[v]} / tau - lse_z;
        div += loss.reverse ? std::exp(log_q) * (log_q - log_p) : std::exp(log_p) * (log_p - log_q);
      }
      kl[n] = static_cast<float>(tau * tau * div);
      ce[n] = with_ce ? static_cast<float>(lse_1 - row[targets[n]]) : 0.0f;
      for (int64_t v = 0; v < V; ++v) {
        const double log_p = double{trow[v]} / tau - lse_t;
        const double log_q = double{row[v]} / tau - lse_z;
        const double q = std::exp(log_q);
        // d(tau² KL)/dz_v = tau · dKL/d(z_v / tau)
        const double dkl =
            loss.reverse ? tau * q * (log_q - log_p - div) : tau * (q - std::exp(log_p));
        const double dce = with_ce ? std::exp(double{row[v]} - lse_1) : 0.0;
        row[v] = static_cast<float>(grad_scale * (a * dkl + (1.0 - a) * dce));
      }
      if (with_ce) row[targets[n]] -= static_cast<float>(grad_scale * (1.0 - a));
    }
  });
  return SumDistillLosses(kl, ce, N);
}

DistillLossSums SumDistillLosses(const float* kl, const float* ce, int64_t N) {
  DistillLossSums sums;
  for (int64_t n = 0; n < N; ++n) {
    sums.kl += kl[n];
    sums.ce += ce[n];
  }
  return sums;
}

}  // namespace shrink::train
