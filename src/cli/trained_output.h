// The GGUF a training command writes (`shrink train`, `shrink distill`): the trained F32 master
// weights under the source model's metadata (a llama2.c source gets keys built from its config
// and tokenizer), F32 or re-encoded to a type or mix through pipeline/quantized_training.h (the
// plan a quantization-aware run trains against), atomically.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "io/imatrix_file.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "pipeline/quantized_training.h"
#include "quant/importance.h"
#include "quant/mix.h"
#include "train/trainable_model.h"

namespace shrink::cli {

// The output's metadata: the source's keys, or for a llama2.c checkpoint (which has none) its
// architecture keys from the Config and tokenizer keys from its file.
Result<GgufMetadata> TrainedSourceMetadata(const Model& source);

// The output type of a run with `--type type` and `--quantize quantize` (empty: not given): the
// trained grid when quantize is given, since any other type would re-round the trained weights
// onto another grid. Error: --type names another type than --quantize.
Result<std::string> TrainedOutputType(const std::string& type, const std::string& quantize);

// Checks `--rounding` (ggml or exact) for a run with `--quantize quantize` (empty: not given):
// exact steps are a choice of the fake-quantized grid, so they need --quantize.
Status CheckTrainingRounding(const std::string& rounding, const std::string& quantize);

// A training run's output, planned before training (`shrink train` and `shrink distill`): the
// plan the file is written through, and with quantization-aware training the fake quantization
// set on the model from that same plan, so the file holds exactly the grid the weights trained
// against. With an imatrix, the plan's matrices (and so the fake-quantized forward) are encoded
// importance-weighted.
struct TrainingOutput {
  TrainedOutputPlan out;
  AttachedImportance importance;  // backs out.plan's importance spans; keep with `out`
  GgufMetadata metadata;          // the source's keys, and the imatrix's when one is given
  int64_t fake_quantized = 0;     // tensors the forward pass reads through a grid
};

// Plans `model`'s output under `mix` (with `imatrix`, read from `imatrix_path`, when not null)
// and, when `quantize`, sets the plan's fake quantization on `model`, with exact frozen steps
// for the one-scale types when `exact_steps` (pipeline/quantized_training.h FakeQuantSpecFor;
// the steps are searched here, on the model's weights as they are now). Errors: an imatrix that
// does not match the model (AttachImatrix), a type without an encoder, non-finite weights under
// exact steps.
Result<TrainingOutput> PlanTrainingOutput(const Model& source, train::TrainableModel& model,
                                          const QuantMix& mix, bool quantize,
                                          const ImatrixData* imatrix,
                                          const std::string& imatrix_path,
                                          bool exact_steps = false);

// Writes the trained masters through the plan made by PlanTrainingOutput for `model`,
// atomically (tensors with exact frozen steps as the blocks `model` reads them through).
Status WriteTrainingOutput(const std::string& out_path, const QuantMix& mix,
                           const TrainingOutput& output, int threads, train::TrainableModel& model);

}  // namespace shrink::cli
