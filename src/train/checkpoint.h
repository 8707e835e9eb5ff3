// Training checkpoints: everything a run needs to continue bit-identically to an uninterrupted
// run with the same seed and thread count — the F32 master weights, AdamW's moments and step
// count, the optimizer step (the schedule's position), and the data order's position — plus what
// identifies the run, so that a checkpoint is never resumed into something else.
//
// The data order (train/token_batches.h) is a pure function of the token stream and the seed, so
// its state is the number of windows handed out: a resume rebuilds it from the seed and skips
// that many windows, and the token stream's hash is stored to catch changed --data.
//
// File layout (little-endian, ours; not a GGUF):
//   "SHRINKCK" | u32 version (1) | u64 header bytes | header text | u64 n | params, m, v: n F32
//   each | u64 check (a word-wise hash of every byte before it)
// The header is UTF-8 lines "key\tvalue[\tvalue]": kind, one "tensor\tNAME\tSHAPE" per parameter
// tensor, one "hp\tFLAG\tVALUE" per hyperparameter, data (token count and hash), step, windows,
// adam_steps. Written atomically (io/atomic_file.h): a failed write (full disk) leaves the
// previous checkpoint as it was.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "train/adamw.h"
#include "train/token_batches.h"
#include "train/trainable_model.h"
#include "train/trainer.h"

namespace shrink::train {

// A hyperparameter as its flag spells it: a resumed run must repeat every one of them.
struct Hyperparameter {
  std::string flag;   // "--lr"
  std::string value;  // formatted so that equal values give equal text
};

// What identifies a run.
struct CheckpointRun {
  std::string kind;  // "train", "distill"
  std::vector<Hyperparameter> hyperparameters;
  std::span<const int32_t> data_tokens;  // the training token stream (hashed)
};

// Where a run stands.
struct CheckpointProgress {
  int64_t step = 0;     // optimizer steps done
  int64_t windows = 0;  // training windows handed out by the data order
};

// Writes `path` atomically. Errors name the path and the OS reason.
Status WriteCheckpoint(const std::string& path, const CheckpointRun& run,
                       const TrainableModel& model, const AdamW& adamw,
                       const CheckpointProgress& progress);

// Reads `path`, checks that it belongs to `run` and `model`, then restores the weights into
// `model` and the moments into `adamw`, and returns the progress. One-line errors, before any
// state is touched: not a checkpoint / truncated / corrupt (with the offset); a different kind of
// run; a different model (names the first tensor whose name or shape differs, or the counts); a
// changed hyperparameter ("--lr is 0.0002, the checkpoint's run used 0.0001"); changed data.
Result<CheckpointProgress> ReadCheckpoint(const std::string& path, const CheckpointRun& run,
                                          TrainableModel& model, AdamW& adamw);

// A Trainer's run, saved and resumed whole: the checkpoint of `trainer` (its model and optimizer)
// at its current step with `batches`' position.
Status SaveTrainingState(const std::string& path, const CheckpointRun& run, Trainer& trainer,
                         const TrainableModel& model, const TokenBatches& batches);
// Restores a fresh Trainer / model / TokenBatches (built with the run's options and seed) to the
// checkpoint's state: weights, moments, step, and the data order (replayed from the seed up to
// the windows handed out). The next Step then computes what the interrupted run's next step
// would have. Errors: ReadCheckpoint's, and a step past the trainer's options.steps.
Result<CheckpointProgress> ResumeTrainingState(const std::string& path, const CheckpointRun& run,
                                               Trainer& trainer, TrainableModel& model,
                                               TokenBatches& batches);

}  // namespace shrink::train
