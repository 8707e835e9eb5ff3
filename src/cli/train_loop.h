// The parts of a training command's loop that `shrink train` and `shrink distill` share: the
// optimizer flags, checkpoint flags (--checkpoint FILE --checkpoint-every N, --resume FILE), the
// progress line (loss, tokens/s, ETA), and Ctrl-C: SIGINT during a run stops it after the current
// step, writes a checkpoint when --checkpoint is given, and ends the command with an error (no
// output file), so that --resume can continue it.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/progress.h"
#include "base/status.h"
#include "train/checkpoint.h"
#include "train/token_batches.h"
#include "train/trainable_model.h"
#include "train/trainer.h"

namespace shrink::cli {

// --batch --accum --seq --lr --warmup --min-lr-ratio --weight-decay --clip --seed --threads
// --log-every (not --steps: train asks for steps, distill for tokens).
void AddTrainOptionFlags(CLI::App* cmd, train::TrainOptions& o, uint64_t& seed, int& threads,
                         int& log_every);
// Those flags' values (and --steps) as a resumed run must repeat them; --threads as the kernel pool
// resolved it, so call this after SetTrainThreads.
std::vector<train::Hyperparameter> TrainHyperparameters(const train::TrainOptions& o,
                                                        uint64_t seed);

struct CheckpointFlags {
  std::string path;    // --checkpoint
  int64_t every = 0;   // --checkpoint-every (0: only on Ctrl-C)
  std::string resume;  // --resume
};
void AddCheckpointFlags(CLI::App* cmd, CheckpointFlags& flags);

class TrainLoop {
 public:
  // `name` prefixes the progress lines. Installs the SIGINT handler until destruction.
  TrainLoop(std::string name, CheckpointFlags flags, train::CheckpointRun run, int64_t steps,
            int64_t tokens_per_step, int log_every);
  ~TrainLoop();
  TrainLoop(const TrainLoop&) = delete;
  TrainLoop& operator=(const TrainLoop&) = delete;

  // With --resume: restores weights, moments, the step and the data order's position.
  Status ResumeIfAsked(train::TrainableModel& model, train::Trainer& trainer,
                       train::TokenBatches& batches);
  // The progress line of a finished step (every log_every steps, and the last); `extra` follows
  // the loss.
  void Progress(int64_t step, const train::StepResult& r, const std::string& extra);
  // Writes a checkpoint every --checkpoint-every steps; after Ctrl-C writes one (with
  // --checkpoint) and returns an error saying where the run stopped.
  Status AfterStep(train::TrainableModel& model, train::Trainer& trainer,
                   const train::TokenBatches& batches);

 private:
  Status Save(train::TrainableModel& model, train::Trainer& trainer,
              const train::TokenBatches& batches);

  std::string name_;
  CheckpointFlags flags_;
  train::CheckpointRun run_;
  int64_t steps_, tokens_per_step_;
  int log_every_;
  int64_t first_step_ = 0;  // of this process (after a resume)
  std::chrono::steady_clock::time_point start_;
};

}  // namespace shrink::cli
