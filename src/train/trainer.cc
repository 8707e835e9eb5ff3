#include "train/trainer.h"

#include <cmath>

#include "kernels/kernel_threads.h"

namespace shrink::train {

Status ValidateTrainOptions(const TrainOptions& o, const Config& config) {
  if (o.batch < 1) return Status::Errorf("--batch is {}, expected >= 1", o.batch);
  if (o.accum < 1 || o.batch % o.accum != 0) {
    return Status::Errorf("--accum {} must be >= 1 and divide --batch {}", o.accum, o.batch);
  }
  if (o.seq < 1 || o.seq > config.context_length) {
    return Status::Errorf("--seq is {}, expected 1 to the model's context length {}", o.seq,
                          config.context_length);
  }
  if (o.steps < 1) return Status::Errorf("--steps is {}, expected >= 1", o.steps);
  const LrSchedule& s = o.schedule;
  if (!std::isfinite(s.lr) || !(s.lr > 0.0f) || s.lr > 1.0f) {
    return Status::Errorf("--lr is {}, expected a number in (0, 1]", s.lr);
  }
  if (s.warmup_steps < 0 || s.warmup_steps > o.steps) {
    return Status::Errorf("--warmup is {}, expected 0 to --steps {}", s.warmup_steps, o.steps);
  }
  if (!(s.min_lr_ratio >= 0.0f && s.min_lr_ratio <= 1.0f)) {
    return Status::Errorf("--min-lr-ratio is {}, expected a number in [0, 1]", s.min_lr_ratio);
  }
  const AdamWOptions& a = o.adamw;
  if (!(a.beta1 >= 0.0f && a.beta1 < 1.0f) || !(a.beta2 >= 0.0f && a.beta2 < 1.0f)) {
    return Status::Errorf("--beta1 {} and --beta2 {}: expected both in [0, 1)", a.beta1, a.beta2);
  }
  if (!(a.eps > 0.0f)) return Status::Errorf("--adam-eps is {}, expected > 0", a.eps);
  if (!(a.weight_decay >= 0.0f) || !std::isfinite(a.weight_decay)) {
    return Status::Errorf("--weight-decay is {}, expected a finite number >= 0", a.weight_decay);
  }
  if (!(o.clip >= 0.0) || !std::isfinite(o.clip)) {
    return Status::Errorf("--clip is {}, expected a finite number >= 0 (0: no clipping)", o.clip);
  }
  return Status::Ok();
}

void SetTrainThreads(int threads) {
  SetKernelThreads(threads);  // also sets OpenBLAS to one thread: PoolSgemm tiles run on the pool
}

Trainer::Trainer(TrainableModel& model, const TrainOptions& options)
    : model_(model), options_(options), adamw_(model, options.adamw) {
  options_.schedule.total_steps = options.steps;
  model_.Reserve(options.batch / options.accum, options.seq);
}

Result<StepResult> Trainer::Step(std::span<const int32_t> inputs,
                                 std::span<const int32_t> targets) {
  const int64_t T = options_.seq;
  return Step(inputs, targets,
              [&](TrainableModel& m, int64_t first, int64_t, float grad_scale) -> Result<double> {
                return m.CrossEntropy(targets.data() + first * T, grad_scale);
              });
}

Result<StepResult> Trainer::Step(std::span<const int32_t> inputs, std::span<const int32_t> targets,
                                 const LossFn& loss) {
  const int64_t T = options_.seq, micro = options_.batch / options_.accum;
  const int64_t tokens = options_.batch * T;
  if (static_cast<int64_t>(inputs.size()) != tokens ||
      static_cast<int64_t>(targets.size()) != tokens) {
    return Status::Errorf("a training step takes {} × {} tokens, got {} inputs and {} targets",
                          options_.batch, T, inputs.size(), targets.size());
  }
  SHRINK_RETURN_IF_ERROR(model_.CheckTokens(inputs));
  SHRINK_RETURN_IF_ERROR(model_.CheckTokens(targets));
  // Each micro-batch's loss sum is scaled by 1 / (all tokens of the step): the accumulated
  // gradient is that of the step's mean loss, whatever accum is.
  const float grad_scale = 1.0f / static_cast<float>(tokens);
  model_.ZeroGrad();
  double loss_sum = 0.0;
  for (int64_t a = 0; a < options_.accum; ++a) {
    const int64_t first = a * micro * T;
    model_.Forward(inputs.data() + first, micro, T);
    SHRINK_ASSIGN_OR_RETURN(const double micro_loss, loss(model_, a * micro, micro, grad_scale));
    loss_sum += micro_loss;
    model_.Backward();
  }
  StepResult r;
  r.loss = loss_sum / static_cast<double>(tokens);
  if (!std::isfinite(r.loss)) {
    return Status::Errorf("step {}: the loss is {} (diverged; try a lower --lr)", step_, r.loss);
  }
  r.grad_norm = ClipGradNorm(model_.grads(), options_.clip);
  r.lr = LearningRate(options_.schedule, step_);
  adamw_.Step(model_, r.lr);
  ++step_;
  return r;
}

}  // namespace shrink::train
