#include "train/adamw.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "kernels/kernel_threads.h"

namespace shrink::train {
namespace {

// Elements per parallel chunk: large enough that scheduling costs nothing next to the work.
constexpr int64_t kGrain = 1 << 16;

}  // namespace

AdamW::AdamW(const TrainableModel& model, const AdamWOptions& options) : options_(options) {
  const size_t n = model.params().size();
  m_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
  for (const ParamTensor& t : model.tensors()) {
    decay_.push_back(t.matrix() ? options.weight_decay : 0.0f);
  }
}

void AdamW::Step(TrainableModel& model, float lr) {
  ++t_;
  const float b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
  const float c1 = static_cast<float>(1.0 - std::pow(double{b1}, static_cast<double>(t_)));
  const float c2 = static_cast<float>(1.0 - std::pow(double{b2}, static_cast<double>(t_)));
  std::span<float> p = model.params();
  std::span<const float> g = model.grads();
  for (size_t ti = 0; ti < model.tensors().size(); ++ti) {
    const ParamTensor& t = model.tensors()[ti];
    const float wd = decay_[ti];
    float* pt = p.data() + t.offset;
    const float* gt = g.data() + t.offset;
    float* mt = m_.data() + t.offset;
    float* vt = v_.data() + t.offset;
    KernelThreads().Run(t.count, kGrain, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        mt[i] = b1 * mt[i] + (1.0f - b1) * gt[i];
        vt[i] = b2 * vt[i] + (1.0f - b2) * gt[i] * gt[i];
        const float m_hat = mt[i] / c1, v_hat = vt[i] / c2;
        pt[i] -= lr * (m_hat / (std::sqrt(v_hat) + eps) + wd * pt[i]);
      }
    });
  }
}

Status AdamW::Restore(std::span<const float> m, std::span<const float> v, int64_t steps) {
  if (m.size() != m_.size() || v.size() != v_.size()) {
    return Status::Errorf("AdamW moments have {} and {} values, expected {}", m.size(), v.size(),
                          m_.size());
  }
  std::copy(m.begin(), m.end(), m_.begin());
  std::copy(v.begin(), v.end(), v_.begin());
  t_ = steps;
  return Status::Ok();
}

float LearningRate(const LrSchedule& s, int64_t step) {
  if (step < s.warmup_steps) {
    return s.lr * static_cast<float>(step + 1) / static_cast<float>(s.warmup_steps);
  }
  const int64_t decay_steps = s.total_steps - s.warmup_steps;
  if (decay_steps <= 0) return s.lr;
  const double progress =
      std::min(1.0, static_cast<double>(step - s.warmup_steps) / static_cast<double>(decay_steps));
  const double min_lr = double{s.lr} * s.min_lr_ratio;
  return static_cast<float>(min_lr +
                            0.5 * (s.lr - min_lr) * (1.0 + std::cos(std::numbers::pi * progress)));
}

double ClipGradNorm(std::span<float> grads, double max_norm) {
  // Partial sums over fixed chunks, added in chunk order: the norm has the same bits for any
  // thread count.
  const int64_t n = static_cast<int64_t>(grads.size());
  std::vector<double> partial(static_cast<size_t>((n + kGrain - 1) / kGrain), 0.0);
  KernelThreads().Run(n, kGrain, [&](int64_t begin, int64_t end, int) {
    // Eight independent F64 sums (fixed lanes, added in order): the compiler vectorizes them, one
    // serial F64 chain would bound the loop by the add latency.
    double lane[8] = {};
    int64_t i = begin;
    for (; i + 8 <= end; i += 8) {
      for (int j = 0; j < 8; ++j) lane[j] += double{grads[i + j]} * grads[i + j];
    }
    for (; i < end; ++i) lane[0] += double{grads[i]} * grads[i];
    double ss = 0.0;
    for (double l : lane) ss += l;
    partial[static_cast<size_t>(begin / kGrain)] = ss;
  });
  double ss = 0.0;
  for (double p : partial) ss += p;
  const double norm = std::sqrt(ss);
  if (max_norm > 0.0 && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    KernelThreads().Run(n, kGrain, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) grads[i] *= scale;
    });
  }
  return norm;
}

}  // namespace shrink::train
