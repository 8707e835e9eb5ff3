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

Status CheckTrainingRounding(const std::string& rounding, const std::string& quantize) {
  if (rounding != "ggml" && rounding != "exact") {
    return Status::Errorf("--rounding is \"{}\", expected ggml or exact", rounding);
  }
  if (rounding == "exact" && quantize.empty()) {
    return Status::Error("--rounding exact chooses the trained grid's steps: it needs --quantize");
  }
  return Status::Ok();
}

Result<TrainingOutput> PlanTrainingOutput(const Model& source, train::TrainableModel& model,
                                          const QuantMix& mix, bool quantize,
                                          const ImatrixData* imatrix,
                                          const std::string& imatrix_path, bool exact_steps) {
  TrainingOutput o;
  SHRINK_ASSIGN_OR_RETURN(o.out, PlanTrainedOutput(model, mix, imatrix != nullptr));
  SHRINK_ASSIGN_OR_RETURN(o.metadata, TrainedSourceMetadata(source));
  if (imatrix != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(o.importance, AttachImatrix(*imatrix, imatrix_path, o.out.plan));
    for (auto& kv : ImatrixMetadata(*imatrix, imatrix_path)) o.metadata.push_back(std::move(kv));
  }
  if (quantize) {
    train::FakeQuantSpec spec = FakeQuantSpecFor(o.out.plan, model, exact_steps);
    for (const train::FakeQuantTensor& t : spec) o.fake_quantized += t.type != TensorType::kF32;
    SHRINK_RETURN_IF_ERROR(model.SetFakeQuant(std::move(spec)));
  }
  return o;
}

Status WriteTrainingOutput(const std::string& out_path, const QuantMix& mix,
                           const TrainingOutput& output, int threads,
                           train::TrainableModel& model) {
  return shrink::WriteTrainedGguf(out_path, output.metadata, mix, output.out.plan, threads, model);
}

}  // namespace shrink::cli
