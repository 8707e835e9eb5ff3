#include "pipeline/quantized_training.h"

#include "base/check.h"
#include "formats/exact_scale.h"
#include "quant/quantized_gguf.h"

namespace shrink {

Weights TrainedWeights(const train::TrainableModel& model) {
  Weights w = Weights::Skeleton(model.config());
  size_t i = 0;
  const std::span<const float> params = model.params();
  w.ForEachTensor([&](TensorView& t) {
    const train::ParamTensor& p = model.tensors()[i++];
    SHRINK_CHECK(p.name == t.name);
    t.type = TensorType::kF32;
    t.data = {reinterpret_cast<const uint8_t*>(params.data() + p.offset),
              static_cast<size_t>(p.count) * sizeof(float)};
  });
  return w;
}

Result<TrainedOutputPlan> PlanTrainedOutput(const train::TrainableModel& model, const QuantMix& mix,
                                            bool with_imatrix) {
  TrainedOutputPlan out;
  out.weights = std::make_unique<Weights>(TrainedWeights(model));
  const std::vector<const TensorView*> order = TensorsInTableOrder(*out.weights);
  out.plan = PlanQuantization(model.config(), order, mix, /*pure=*/false, with_imatrix);
  SHRINK_RETURN_IF_ERROR(CheckEncodable(out.plan));
  return out;
}

train::FakeQuantSpec FakeQuantSpecFor(const QuantPlan& plan, const train::TrainableModel& model,
                                      bool exact_steps) {
  SHRINK_CHECK(plan.tensors.size() == model.tensors().size());
  train::FakeQuantSpec spec(plan.tensors.size());
  for (size_t i = 0; i < spec.size(); ++i) {
    const TensorPlan& t = plan.tensors[i];
    SHRINK_CHECK(t.source->name == model.tensors()[i].name);
    spec[i].type = t.type;
    if (exact_steps && t.type != TensorType::kF32 && HasExactScaleEncoder(Traits(t.type))) {
      spec[i].rounding = train::FakeQuantRounding::kExactFrozenSteps;
    }
    if (t.importance_use == ImportanceUse::kUsed) {
      spec[i].importance.assign(t.importance.begin(), t.importance.end());
    }
  }
  return spec;
}

Status WriteTrainedGguf(const std::string& path, const GgufMetadata& source_metadata,
                        const QuantMix& mix, const QuantPlan& plan, int threads,
                        train::TrainableModel& model) {
  SHRINK_CHECK(plan.tensors.size() == model.tensors().size());
  // Tensors with stored blocks: the plan's entry points at a view of those bytes in the planned
  // type, which the writer copies (TensorPlan::copied) instead of encoding the masters again.
  QuantPlan written = plan;
  std::vector<TensorView> grids;
  grids.reserve(plan.tensors.size());  // no reallocation: the plan points into it
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const std::span<const uint8_t> blocks = model.FakeQuantBlocks(i);
    if (blocks.empty()) continue;
    TensorView view = *plan.tensors[i].source;
    view.type = plan.tensors[i].type;
    view.data = blocks;
    grids.push_back(view);
    written.tensors[i].source = &grids.back();
  }
  const GgufMetadata metadata = QuantizedMetadata(source_metadata, mix);
  QuantizeOptions q;
  q.threads = threads;
  return WriteQuantizedGguf(path, metadata, written, q);
}

}  // namespace shrink
