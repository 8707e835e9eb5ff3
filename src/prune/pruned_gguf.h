// Writing a pruned model: every tensor decoded to F32, the chosen ones pruned row by row
// (prune/sparsity.h), and encoded in the type the caller gives each tensor with the formats
// table's reference encoder (the same bytes quant/convert_rows.h writes without an imatrix). The
// CLI takes the types from a quantization plan (quant/plan.h: F32 by default, or any mix), so
// "50% 2:4 + Q8_0" is one run; this layer does not include quant/ (a sibling).
//
//   std::vector<PrunedTensor> tensors = ...;   // source view, output type, prune or not
//   SHRINK_RETURN_IF_ERROR(WritePrunedGguf("out.gguf", metadata, tensors, options));
//
// Pruned weights are written dense, as zeros (llama.cpp and shrink run them as any dense matrix).
// A tensor that is not pruned and keeps its stored type is copied byte for byte. Memory: one slab
// of F32 rows (kPruneSlabFloats) plus the writer's output slab, whatever the model's size; the
// file appears only when complete (io/gguf_writer.h: temp file + rename, so an interrupted run
// leaves nothing at the output path).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "formats/types.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "model/weights.h"
#include "prune/sparsity.h"

namespace shrink {

// How one tensor of a plan is pruned.
struct TensorPruneSpec {
  bool prune = false;
  // Wanda: ‖X_j‖₂ per input column (the row length); empty: magnitude (every scale 1).
  std::span<const float> column_scale;
};

// What pruning did to one tensor.
struct TensorPruneStats {
  int64_t kept = 0;             // weights kept
  int64_t total = 0;            // weights
  double threshold_sum = 0;     // Σ over rows of the row's threshold (rows that removed any)
  int64_t threshold_rows = 0;   // rows that removed any
  double threshold_max = -1.0;  // largest row threshold; -1 when nothing was removed

  double kept_fraction() const { return total > 0 ? static_cast<double>(kept) / total : 1.0; }
  double mean_threshold() const {
    return threshold_rows > 0 ? threshold_sum / threshold_rows : -1.0;
  }
};

// F32 values per slab of decoded rows (8 MiB).
inline constexpr int64_t kPruneSlabFloats = int64_t{2} << 20;

// Decodes `src` to F32 a slab of whole rows at a time, prunes each row when spec.prune, and calls
// consume(first_row, rows, values: rows × cols floats). Adds to *stats (may be null).
// REQUIRES: a pattern's m divides src.cols() when spec.prune (CheckPatternFits); column_scale
// empty or src.cols() values.
Status ForEachPrunedSlab(
    const TensorView& src, const TensorPruneSpec& spec, const SparsityTarget& target,
    TensorPruneStats* stats,
    const std::function<Status(int64_t first_row, int64_t rows, std::span<const float>)>& consume);

// One output tensor.
struct PrunedTensor {
  const TensorView* source = nullptr;  // name (the output's), shape, stored type and bytes
  TensorType type = TensorType::kF32;  // the output's type: needs an encoder unless it is the
                                       // stored type and the tensor is not pruned
  TensorPruneSpec spec;
};

// The output's tensor table: names, shapes and types of `tensors`.
std::vector<GgufTensorDecl> PrunedTensorDecls(std::span<const PrunedTensor> tensors);

// Errors: a pruning pattern whose M does not divide a pruned tensor's rows; an output type with
// no encoder that the tensor needs; a row that is not whole blocks of its output type.
Status CheckPrunable(std::span<const PrunedTensor> tensors, const SparsityTarget& target);

struct PruneWriteOptions {
  SparsityTarget target;
  // Called after each tensor with (its index, its stats); may be empty.
  std::function<void(size_t, const TensorPruneStats&)> on_tensor_done = nullptr;
};

// Writes `metadata` and `tensors` (in order) to `path`, pruning those whose spec says so.
// REQUIRES: CheckPrunable(tensors, options.target) is OK.
// Errors (nothing is left at `path`): the writer's; a NaN or infinite weight going into a
// block-quantized type (named by tensor, row and column).
Status WritePrunedGguf(const std::string& path,
                       std::span<const std::pair<std::string, GgufValue>> metadata,
                       std::span<const PrunedTensor> tensors, const PruneWriteOptions& options);

}  // namespace shrink
