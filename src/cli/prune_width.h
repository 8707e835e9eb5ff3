// Width pruning for `shrink prune` (--ffn/--heads/--kv-heads/--hidden, or --method width
// --target-params P): the flags checked against the model before calibration, then the pruned model
// planned from the Minitron activation scores and written in the output mix's types (prune/width.h).
// Per-layer widths are written as architecture deci (docs/pruning_width.md).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "prune/width.h"
#include "prune/width_scores.h"
#include "quant/mix.h"

namespace shrink::cli {

// The width part of `shrink prune`'s flags.
struct WidthPruneFlags {
  UniformWidths widths;       // --ffn, --heads, --kv-heads, --hidden (-1: keep)
  std::string target_params;  // --target-params ("100M"), empty for uniform widths only
  std::string out_path;       // not written with dry_run
  std::string calibration;    // its file name is recorded in shrink.prune.calibration
  bool explain = false, dry_run = false;
};

// Width flags checked against the model before calibration: resolved uniform widths, the budget.
struct WidthArgs {
  UniformWidths widths;
  int64_t target_params = -1;  // -1: no budget
  int64_t multiple = 1;        // rows must be whole blocks of this many elements
};

// Resolves the uniform widths and the --target-params budget against `config` for output `mix`:
// errors name the flag, the model's value and, for block sizes, the nearest valid widths; a budget
// at or above the model's size or below the smallest model the width plan reaches is an error, and
// so is a budget for an architecture whose per-layer widths llama.cpp cannot load.
Result<WidthArgs> CheckWidthFlags(const WidthPruneFlags& f, const Config& config,
                                  const QuantMix& mix);

// Plans the widths from `scores` (uniform, then the budget when args has one), prunes `model` and
// writes it to f.out_path in `mix`'s types, tensors in `order` (the source's), metadata from
// `source_metadata` with the width keys and shrink.prune.*; with f.dry_run prints the size only.
// REQUIRES: args from CheckWidthFlags(f, model.config, mix); scores sized by model.config.
Status WriteWidthPruned(const WidthPruneFlags& f, const Model& model,
                        const GgufMetadata& source_metadata,
                        std::span<const TensorView* const> order, const WidthArgs& args,
                        const WidthScores& scores, const QuantMix& mix);

}  // namespace shrink::cli
