// AdamW (Loshchilov & Hutter: decoupled weight decay), the learning-rate schedule (linear warmup,
// then cosine decay) and global-norm gradient clipping, over a TrainableModel's parameters.
//
//   AdamW opt(model, {.weight_decay = 0.1f});
//   for (step = 0; step < steps; ++step) {
//     ... model.ZeroGrad(); Forward/loss/Backward once per micro-batch ...
//     double norm = ClipGradNorm(model.grads(), 1.0);
//     opt.Step(model, LearningRate(schedule, step));
//   }
//
// Update for parameter p with gradient g at step t (1-based, counted by Step):
//   m = β1 m + (1-β1) g,  v = β2 v + (1-β2) g²,  m̂ = m / (1-β1^t),  v̂ = v / (1-β2^t)
//   p -= lr · (m̂ / (√v̂ + ε) + λ p)     with λ = weight_decay for matrices, 0 for norms (1-D)
// (PyTorch's torch.optim.AdamW computes the same: p·(1 - lr λ) then the Adam step.) Element-wise,
// so results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "train/trainable_model.h"

namespace shrink::train {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // λ, on matrices only
};

class AdamW {
 public:
  AdamW(const TrainableModel& model, const AdamWOptions& options);
  // Applies one update with learning rate `lr` from model.grads().
  void Step(TrainableModel& model, float lr);
  int64_t steps() const { return t_; }
  // First and second moments, laid out as params() (for checkpoints).
  std::span<const float> m() const { return m_; }
  std::span<const float> v() const { return v_; }
  // Restores a checkpoint's moments and step count. Errors when m or v is not params-sized.
  Status Restore(std::span<const float> m, std::span<const float> v, int64_t steps);

 private:
  AdamWOptions options_;
  std::vector<float> m_, v_;
  std::vector<float> decay_;  // λ per tensor, in tensors() order
  int64_t t_ = 0;
};

struct LrSchedule {
  float lr = 3e-4f;           // peak learning rate
  int64_t warmup_steps = 0;   // linear ramp: lr · (step + 1) / warmup_steps
  int64_t total_steps = 1;    // cosine from lr at the end of warmup to min_lr at total_steps
  float min_lr_ratio = 0.1f;  // min_lr = lr · min_lr_ratio
};
// The learning rate of optimizer step `step` (0-based).
float LearningRate(const LrSchedule& s, int64_t step);

// Global L2 norm of `grads` (accumulated in F64); when it exceeds max_norm > 0, scales every
// gradient by max_norm / norm. Returns the norm before clipping.
double ClipGradNorm(std::span<float> grads, double max_norm);

}  // namespace shrink::train
