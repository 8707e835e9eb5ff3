#include "quant/gptq_model.h"

#include <map>
#include <optional>

#include "calib/hessian.h"
#include "calib/sequential_layers.h"
#include "kernels/kernel_threads.h"

namespace shrink {
namespace {

// W: (rows, cols) as F32, decoded from any stored type.
std::vector<float> DecodeMatrix(const TensorView& v) {
  std::vector<float> w(static_cast<size_t>(v.rows() * v.cols()));
  Traits(v.type).decode(v.data.data(), w.data(), v.rows() * v.cols());
  return w;
}

}  // namespace

Result<GptqModelReport> GptqQuantizeModel(Model& model, const QuantPlan& plan,
                                          std::span<const TokenId> tokens,
                                          const CalibrationPlan& cplan,
                                          const GptqModelOptions& options) {
  // Which views GPTQ quantizes, and into which type.
  std::map<const TensorView*, const TensorPlan*> planned;
  for (const TensorPlan& t : plan.tensors) {
    if (t.source->layer < 0 || !SpecOf(t.source->role).linear || t.copied()) continue;
    if (Traits(t.type).grid == nullptr) continue;
    planned[t.source] = &t;
  }
  auto plan_of = [&](int layer, TensorRole role) -> const TensorPlan* {
    const auto it = planned.find(&(model.weights.layers[layer].*SpecOf(role).layer_member));
    return it == planned.end() ? nullptr : it->second;
  };

  GptqModelReport report;
  SequentialOptions seq;
  seq.threads = options.threads;
  seq.bos = options.bos;
  seq.on_layer = options.on_layer;
  seq.select = [&](int layer, TensorRole role) {
    return layer >= 0 && plan_of(layer, role) != nullptr;
  };
  // The views are found by address, so the plan's `source` pointers stay valid: the driver
  // rewrites each view in place.
  const RewriteLinear gptq = [&](const TensorView& view,
                                 const GramEntry& gram) -> Result<std::optional<RewrittenTensor>> {
    const TensorPlan& t = *plan_of(view.layer, view.role);
    const std::vector<double> H = GptqHessian(gram);
    const std::vector<float> W = DecodeMatrix(view);
    std::span<const float> importance;
    if (t.importance_use == ImportanceUse::kUsed) importance = t.importance;
    GptqOptions g = options.gptq;
    g.blas_threads = options.threads;
    SHRINK_ASSIGN_OR_RETURN(GptqResult r, GptqQuantize(W, view.rows(), view.cols(), H, importance,
                                                       t.type, g, KernelThreads()));
    ++report.tensors;
    report.dead_columns += r.dead_columns;
    return std::optional<RewrittenTensor>(RewrittenTensor{t.type, std::move(r.rows)});
  };
  SHRINK_RETURN_IF_ERROR(RewriteLinearsSequentially(model, tokens, cplan, seq, gptq));
  return report;
}

}  // namespace shrink
