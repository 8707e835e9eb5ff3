// The GGUF a training command writes (`shrink train`, `shrink distill`): the trained F32 master
// weights under the source model's metadata (a llama2.c source gets keys built from its config
// and tokenizer), F32 or re-encoded to a type or mix through pipeline/quantized_training.h (the
// plan a quantization-aware run trains against), atomically.
#pragma once

#include <string>

#include "base/status.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "train/trainable_model.h"

namespace shrink::cli {

// The output's metadata: the source's keys, or for a llama2.c checkpoint (which has none) its
// architecture keys from the Config and tokenizer keys from its file.
Result<GgufMetadata> TrainedSourceMetadata(const Model& source);

// The output type of a run with `--type type` and `--quantize quantize` (empty: not given): the
// trained grid when quantize is given, since any other type would re-round the trained weights
// onto another grid. Error: --type names another type than --quantize.
Result<std::string> TrainedOutputType(const std::string& type, const std::string& quantize);

// `type`: a quantize type or mix name (quant/mix.h), planned without an importance matrix. Errors
// name the type or the output file.
Status WriteTrainedGguf(const std::string& out_path, const std::string& type, int threads,
                        const Model& source, const train::TrainableModel& model);

}  // namespace shrink::cli
