#include "prune/sparsegpt_model.h"

#include <cstring>
#include <optional>
#include <vector>

#include "calib/hessian.h"
#include "calib/sequential_layers.h"
#include "kernels/kernel_threads.h"

namespace shrink {

Result<SparseGptModelReport> SparseGptPruneModel(Model& model, const SparsityTarget& target,
                                                 std::span<const TokenId> tokens,
                                                 const CalibrationPlan& cplan,
                                                 const SparseGptModelOptions& options) {
  SparseGptModelReport report;
  SequentialOptions seq;
  seq.threads = options.threads;
  seq.bos = options.bos;
  seq.on_layer = options.on_layer;
  seq.select = BlockLinears;
  const RewriteLinear prune = [&](const TensorView& view,
                                  const GramEntry& gram) -> Result<std::optional<RewrittenTensor>> {
    const int64_t rows = view.rows(), cols = view.cols();
    std::vector<float> W(static_cast<size_t>(rows * cols));
    Traits(view.type).decode(view.data.data(), W.data(), rows * cols);
    SparseGptOptions o = options.sparsegpt;
    o.blas_threads = options.threads;
    SHRINK_ASSIGN_OR_RETURN(SparseGptResult r, SparseGptPrune(W, rows, cols, GptqHessian(gram),
                                                              target, o, KernelThreads()));
    ++report.tensors;
    report.removed += r.removed;
    report.total += rows * cols;
    report.dead_columns += r.dead_columns;
    if (options.on_tensor) options.on_tensor(view.name, r.removed, rows * cols);
    RewrittenTensor out{TensorType::kF32, std::vector<uint8_t>(r.weights.size() * sizeof(float))};
    std::memcpy(out.bytes.data(), r.weights.data(), out.bytes.size());
    return std::optional<RewrittenTensor>(std::move(out));
  };
  SHRINK_RETURN_IF_ERROR(RewriteLinearsSequentially(model, tokens, cplan, seq, prune));
  return report;
}

}  // namespace shrink
