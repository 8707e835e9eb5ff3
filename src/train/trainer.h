// Trainer: one optimizer step of next-token cross-entropy training over a TrainableModel, the loop
// body `shrink train` runs and the golden test checks against an independent numpy oracle.
//
// A step takes `batch` sequences of `seq` tokens, splits them into `accum` micro-batches of
// batch / accum sequences (activations are sized for one micro-batch), accumulates the gradient
// of the step's mean loss over all batch·seq tokens, clips its global norm, and applies AdamW at
// the scheduled learning rate (train/adamw.h).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "base/status.h"
#include "train/adamw.h"
#include "train/trainable_model.h"

namespace shrink::train {

struct TrainOptions {
  int64_t batch = 4;  // sequences per optimizer step
  int64_t accum = 1;  // micro-batches per step (gradient accumulation); divides batch
  int64_t seq = 256;  // tokens per sequence
  int64_t steps = 1;  // optimizer steps in the run (the schedule's length)
  LrSchedule schedule;
  AdamWOptions adamw;
  double clip = 1.0;  // max global gradient norm; 0 = no clipping
};

// One-line error for nonsense values: non-positive sizes or steps, accum not dividing batch,
// seq above the model's context, a non-finite or non-positive learning rate, warmup longer than
// the run, betas outside [0, 1), negative weight decay or clip, ... naming the flag.
Status ValidateTrainOptions(const TrainOptions& o, const Config& config);

struct StepResult {
  double loss =
      0.0;  // mean loss (cross-entropy, or the LossFn) over the step's tokens, before the update
  double grad_norm = 0.0;  // before clipping
  float lr = 0.0f;
};

// Uses `threads` threads for everything training runs, all on the kernel thread pool: the matrix
// products (PoolSgemm tiles), attention, losses and the optimizer.
void SetTrainThreads(int threads);

class Trainer {
 public:
  // REQUIRES: ValidateTrainOptions(options, model.config()) is OK. `model` outlives the trainer.
  Trainer(TrainableModel& model, const TrainOptions& options);
  // inputs, targets: (batch, seq) token ids, checked against the vocabulary.
  Result<StepResult> Step(std::span<const int32_t> inputs, std::span<const int32_t> targets);

  // A loss over one micro-batch's logits, called after each Forward: it writes grad_scale ·
  // dLoss/dlogits into model.logits() and returns the micro-batch's loss SUM (what the step
  // averages). `first_sequence` indexes the step's batch; the micro-batch has `sequences` of them.
  using LossFn = std::function<Result<double>(TrainableModel& model, int64_t first_sequence,
                                              int64_t sequences, float grad_scale)>;
  // Step with another loss than cross-entropy (distillation, train/distill.h); `targets` are
  // checked but only `loss` reads them.
  Result<StepResult> Step(std::span<const int32_t> inputs, std::span<const int32_t> targets,
                          const LossFn& loss);
  int64_t steps_done() const { return step_; }

  // For checkpoints (train/checkpoint.h): the optimizer state, and setting the step counter of a
  // resumed run (it drives the learning-rate schedule).
  AdamW& optimizer() { return adamw_; }
  const TrainOptions& options() const { return options_; }
  void set_steps_done(int64_t step) { step_ = step; }

 private:
  TrainableModel& model_;
  TrainOptions options_;
  AdamW adamw_;
  int64_t step_ = 0;
};

}  // namespace shrink::train
