#include "cli/train_loop.h"

#include <fmt/format.h>

#include <csignal>
#include <span>

#include "base/progress.h"
#include "cli/flags.h"
#include "kernels/kernel_threads.h"

namespace shrink::cli {
namespace {

// Set by the SIGINT handler, read between steps: a signal handler may only touch a lock-free
// atomic or a volatile sig_atomic_t.
volatile std::sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

}  // namespace

void AddTrainOptionFlags(CLI::App* cmd, train::TrainOptions& o, uint64_t& seed, int& threads,
                         int& log_every) {
  cmd->add_option("--batch", o.batch, "sequences per step")
      ->capture_default_str()
      ->check(IntegerIn(1, 1 << 20));
  cmd->add_option("--accum", o.accum, "micro-batches per step (gradient accumulation)")
      ->capture_default_str()
      ->check(IntegerIn(1, 1 << 20));
  cmd->add_option("--seq", o.seq, "tokens per sequence")
      ->capture_default_str()
      ->check(IntegerIn(1, 1 << 24));
  cmd->add_option("--lr", o.schedule.lr, "peak learning rate")
      ->capture_default_str()
      ->check(FiniteIn(0.0, 1.0, /*lo_open=*/true));
  cmd->add_option("--warmup", o.schedule.warmup_steps, "linear warmup steps")
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 30));
  cmd->add_option("--min-lr-ratio", o.schedule.min_lr_ratio, "final learning rate / peak")
      ->capture_default_str()
      ->check(FiniteIn(0.0, 1.0));
  cmd->add_option("--weight-decay", o.adamw.weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str()
      ->check(FiniteIn(0.0, 10.0));
  cmd->add_option("--clip", o.clip, "max global gradient norm (0: none)")
      ->capture_default_str()
      ->check(FiniteIn(0.0));
  cmd->add_option("--seed", seed, "seed of the data order")
      ->capture_default_str()
      ->check(IntegerIn(0, UINT64_MAX));
  cmd->add_option("--threads", threads, "threads")
      ->capture_default_str()
      ->check(IntegerIn(1, 1024));
  cmd->add_option("--log-every", log_every, "steps between progress lines")
      ->capture_default_str()
      ->check(IntegerIn(1, 1 << 30));
}

std::vector<train::Hyperparameter> TrainHyperparameters(const train::TrainOptions& o,
                                                        uint64_t seed) {
  // {} formats a float as its shortest round-trip text: equal values give equal text.
  return {
      {"--steps", fmt::format("{}", o.steps)},
      {"--batch", fmt::format("{}", o.batch)},
      {"--accum", fmt::format("{}", o.accum)},
      {"--seq", fmt::format("{}", o.seq)},
      {"--lr", fmt::format("{}", o.schedule.lr)},
      {"--warmup", fmt::format("{}", o.schedule.warmup_steps)},
      {"--min-lr-ratio", fmt::format("{}", o.schedule.min_lr_ratio)},
      {"--weight-decay", fmt::format("{}", o.adamw.weight_decay)},
      {"--beta1", fmt::format("{}", o.adamw.beta1)},
      {"--beta2", fmt::format("{}", o.adamw.beta2)},
      {"--clip", fmt::format("{}", o.clip)},
      {"--seed", fmt::format("{}", seed)},
      // The pool's thread count as resolved (0 means all cores): the matrix products split by it
      // (train/pool_gemm.h), so only the same count continues bit-identically.
      {"--threads", fmt::format("{}", KernelThreads().threads())}};
}

void AddCheckpointFlags(CLI::App* cmd, CheckpointFlags& flags) {
  cmd->add_option("--checkpoint", flags.path,
                  "checkpoint file, written atomically every --checkpoint-every steps and on "
                  "Ctrl-C");
  cmd->add_option("--checkpoint-every", flags.every, "steps between checkpoints (0: Ctrl-C only)")
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 30));
  cmd->add_option("--resume", flags.resume,
                  "continue the run of this checkpoint (same flags; bit-identical with the same "
                  "--threads)");
}

TrainLoop::TrainLoop(std::string name, CheckpointFlags flags, train::CheckpointRun run,
                     int64_t steps, int64_t tokens_per_step, int log_every)
    : name_(std::move(name)),
      flags_(std::move(flags)),
      run_(std::move(run)),
      steps_(steps),
      tokens_per_step_(tokens_per_step),
      log_every_(log_every),
      start_(std::chrono::steady_clock::now()) {
  g_interrupted = 0;
  std::signal(SIGINT, OnInterrupt);
}

TrainLoop::~TrainLoop() { std::signal(SIGINT, SIG_DFL); }

Status TrainLoop::ResumeIfAsked(train::TrainableModel& model, train::Trainer& trainer,
                                train::TokenBatches& batches) {
  if (flags_.resume.empty()) return Status::Ok();
  SHRINK_ASSIGN_OR_RETURN(const train::CheckpointProgress p,
                          train::ResumeTrainingState(flags_.resume, run_, trainer, model, batches));
  first_step_ = p.step;
  start_ = std::chrono::steady_clock::now();
  fmt::print(stderr, "{}: resumed from {} at step {}/{}\n", name_, flags_.resume, p.step, steps_);
  return Status::Ok();
}

void TrainLoop::Progress(int64_t step, const train::StepResult& r, const std::string& extra) {
  if (step % log_every_ != 0 && step != steps_) return;
  const double elapsed = SecondsSince(start_);
  const int64_t done = step - first_step_;
  const double tokens = static_cast<double>(done * tokens_per_step_);
  fmt::print(
      stderr,
      "{}: step {}/{} loss {:.4f}{} grad-norm {:.3f} lr {:.3g} | {:.0f} tokens/s | ETA {}\n", name_,
      step, steps_, r.loss, extra, r.grad_norm, r.lr, tokens / elapsed,
      FormatDuration(elapsed / static_cast<double>(done) * static_cast<double>(steps_ - step)));
}

Status TrainLoop::Save(train::TrainableModel& model, train::Trainer& trainer,
                       const train::TokenBatches& batches) {
  const auto t0 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(train::SaveTrainingState(flags_.path, run_, trainer, model, batches));
  fmt::print(stderr, "{}: checkpoint at step {} written to {} in {:.2f} s\n", name_,
             trainer.steps_done(), flags_.path, SecondsSince(t0));
  return Status::Ok();
}

Status TrainLoop::AfterStep(train::TrainableModel& model, train::Trainer& trainer,
                            const train::TokenBatches& batches) {
  const int64_t step = trainer.steps_done();
  if (g_interrupted) {
    if (flags_.path.empty()) {
      return Status::Errorf("interrupted at step {}/{} (no --checkpoint: nothing kept)", step,
                            steps_);
    }
    SHRINK_RETURN_IF_ERROR(Save(model, trainer, batches));
    return Status::Errorf("interrupted at step {}/{}; continue with --resume {}", step, steps_,
                          flags_.path);
  }
  if (!flags_.path.empty() && flags_.every > 0 && step % flags_.every == 0 && step < steps_) {
    SHRINK_RETURN_IF_ERROR(Save(model, trainer, batches));
  }
  return Status::Ok();
}

}  // namespace shrink::cli
