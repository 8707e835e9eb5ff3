#include "cli/trained_output.h"

#include <vector>

#include "model/config_metadata.h"
#include "model/weights.h"
#include "quant/mix.h"
#include "quant/plan.h"
#include "quant/quantized_gguf.h"

namespace shrink::cli {
namespace {

// Views of the trained F32 parameters, named and shaped as the tensor table says.
Weights TrainedWeights(train::TrainableModel& model) {
  Weights w = Weights::Skeleton(model.config());
  size_t i = 0;
  w.ForEachTensor([&](TensorView& t) {
    const train::ParamTensor& p = model.tensors()[i++];
    t.type = TensorType::kF32;
    t.data = {reinterpret_cast<const uint8_t*>(model.params().data() + p.offset),
              static_cast<size_t>(p.count) * sizeof(float)};
  });
  return w;
}

}  // namespace

Status WriteTrainedGguf(const std::string& out_path, const std::string& type, int threads,
                        const Model& source, train::TrainableModel& model) {
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(type));
  GgufMetadata source_metadata = source.metadata;
  if (source_metadata.empty()) {
    // A llama2.c checkpoint: architecture keys from its Config, tokenizer keys from its file.
    SHRINK_ASSIGN_OR_RETURN(source_metadata, Llama2cGgufMetadata(source));
  }
  const Weights weights = TrainedWeights(model);
  const std::vector<const TensorView*> order = TensorsInTableOrder(weights);
  const QuantPlan plan = PlanQuantization(model.config(), order, *mix);
  SHRINK_RETURN_IF_ERROR(CheckEncodable(plan));
  const GgufMetadata metadata = QuantizedMetadata(source_metadata, *mix);
  QuantizeOptions q;
  q.threads = threads;
  return WriteQuantizedGguf(out_path, metadata, plan, q);
}

}  // namespace shrink::cli
