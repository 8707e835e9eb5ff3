#include "cli/trained_output.h"

#include "pipeline/quantized_training.h"
#include "quant/mix.h"

namespace shrink::cli {

Result<GgufMetadata> TrainedSourceMetadata(const Model& source) {
  if (!source.metadata.empty()) return source.metadata;
  return Llama2cGgufMetadata(source);
}

Result<std::string> TrainedOutputType(const std::string& type, const std::string& quantize) {
  if (quantize.empty()) return type;
  if (type != "F32" && type != quantize) {
    return Status::Errorf(
        "--type {} with --quantize {}: the output type is the trained one; drop --type", type,
        quantize);
  }
  return quantize;
}

Status WriteTrainedGguf(const std::string& out_path, const std::string& type, int threads,
                        const Model& source, const train::TrainableModel& model) {
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(type));
  SHRINK_ASSIGN_OR_RETURN(const GgufMetadata source_metadata, TrainedSourceMetadata(source));
  SHRINK_ASSIGN_OR_RETURN(const TrainedOutputPlan out, PlanTrainedOutput(model, *mix));
  return shrink::WriteTrainedGguf(out_path, source_metadata, *mix, out.plan, threads);
}

}  // namespace shrink::cli
