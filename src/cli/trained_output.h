// The GGUF a training command writes (`shrink train`, `shrink distill`): the trained F32 master
// weights under the source model's metadata (a llama2.c source gets keys built from its config
// and tokenizer), F32 or re-encoded to `type` through the quantizer's writer, atomically.
#pragma once

#include <string>

#include "base/status.h"
#include "model/model.h"
#include "train/trainable_model.h"

namespace shrink::cli {

// `type`: a quantize type or mix name (quant/mix.h). Errors name the type or the output file.
Status WriteTrainedGguf(const std::string& out_path, const std::string& type, int threads,
                        const Model& source, train::TrainableModel& model);

}  // namespace shrink::cli
