#include "prune/pruned_gguf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"

namespace shrink {

Status ForEachPrunedSlab(
    const TensorView& src, const TensorPruneSpec& spec, const SparsityTarget& target,
    TensorPruneStats* stats,
    const std::function<Status(int64_t first_row, int64_t rows, std::span<const float>)>& consume) {
  const TypeTraits& from = Traits(src.type);
  const int64_t cols = src.cols();
  const int64_t rows = src.element_count() / cols;
  SHRINK_ASSIGN_OR_RETURN(const int64_t in_row_bytes, RowBytes(src.type, cols));
  SHRINK_CHECK(static_cast<int64_t>(src.data.size()) == rows * in_row_bytes);
  SHRINK_CHECK(spec.column_scale.empty() || static_cast<int64_t>(spec.column_scale.size()) == cols);
  SHRINK_CHECK(!spec.prune || !target.pattern() || cols % target.m == 0);
  const int64_t slab_rows = std::max<int64_t>(1, kPruneSlabFloats / cols);
  std::vector<float> slab(static_cast<size_t>(std::min(slab_rows, rows) * cols));
  std::vector<int32_t> scratch;
  for (int64_t r = 0; r < rows;) {
    const int64_t n = std::min(slab_rows, rows - r);
    std::span<float> values(slab.data(), static_cast<size_t>(n * cols));
    from.decode(src.data.data() + r * in_row_bytes, values.data(), n * cols);
    for (int64_t i = 0; i < n; ++i) {
      std::span<float> row = values.subspan(static_cast<size_t>(i * cols), cols);
      if (!spec.prune) {
        if (stats != nullptr) stats->kept += cols;
        continue;
      }
      const RowPruneStats s = PruneRow(row, spec.column_scale, target, scratch);
      if (stats != nullptr) {
        stats->kept += s.kept;
        if (s.threshold >= 0) {
          stats->threshold_sum += s.threshold;
          stats->threshold_rows += 1;
          stats->threshold_max = std::max(stats->threshold_max, s.threshold);
        }
      }
    }
    if (stats != nullptr) stats->total += n * cols;
    SHRINK_RETURN_IF_ERROR(consume(r, n, values));
    r += n;
  }
  return Status::Ok();
}

std::vector<GgufTensorDecl> PrunedTensorDecls(std::span<const PrunedTensor> tensors) {
  std::vector<GgufTensorDecl> decls;
  decls.reserve(tensors.size());
  for (const PrunedTensor& t : tensors) {
    decls.push_back({t.source->name, t.source->shape, static_cast<uint32_t>(t.type)});
  }
  return decls;
}

Status CheckPrunable(std::span<const PrunedTensor> tensors, const SparsityTarget& target) {
  for (const PrunedTensor& t : tensors) {
    const TensorView& src = *t.source;
    if (t.spec.prune) SHRINK_RETURN_IF_ERROR(CheckPatternFits(target, src.cols(), src.name));
    const bool copied = !t.spec.prune && t.type == src.type;
    if (!copied && Traits(t.type).encode == nullptr) {
      return Status::Errorf("{}: no encoder for {} yet", src.name, Traits(t.type).name);
    }
    SHRINK_RETURN_IF_ERROR(RowBytes(t.type, src.cols()).status().WithContext(src.name));
  }
  return Status::Ok();
}

namespace {

// Block-quantized encoders need finite values (their scale searches divide by maxima).
Status CheckFinite(std::span<const float> values, int64_t cols, int64_t first_row,
                   const TypeTraits& to) {
  if (to.block_elements == 1) return Status::Ok();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return Status::Errorf("row {}, column {}: the value is {}; {} needs finite values",
                            first_row + static_cast<int64_t>(i) / cols,
                            static_cast<int64_t>(i) % cols, values[i], to.name);
    }
  }
  return Status::Ok();
}

}  // namespace

Status WritePrunedGguf(const std::string& path,
                       std::span<const std::pair<std::string, GgufValue>> metadata,
                       std::span<const PrunedTensor> tensors, const PruneWriteOptions& options) {
  SHRINK_CHECK(CheckPrunable(tensors, options.target).ok());
  const std::vector<GgufTensorDecl> decls = PrunedTensorDecls(tensors);
  return WriteGgufStreaming(path, metadata, decls, [&](size_t i, GgufTensorSink& sink) -> Status {
    const PrunedTensor& t = tensors[i];
    const TensorView& src = *t.source;
    TensorPruneStats stats;
    Status s = Status::Ok();
    if (!t.spec.prune && t.type == src.type) {
      s = sink.Append(src.data);
      stats.kept = stats.total = src.element_count();
    } else {
      const TypeTraits& to = Traits(t.type);
      const int64_t cols = src.cols();
      SHRINK_ASSIGN_OR_RETURN(const int64_t out_row_bytes, RowBytes(to.type, cols));
      s = ForEachPrunedSlab(
          src, t.spec, options.target, &stats,
          [&](int64_t first_row, int64_t rows, std::span<const float> values) -> Status {
            SHRINK_RETURN_IF_ERROR(CheckFinite(values, cols, first_row, to));
            SHRINK_ASSIGN_OR_RETURN(std::span<uint8_t> out,
                                    sink.AppendInPlace(rows * out_row_bytes));
            // Row by row: a block never spans two rows (each row is whole blocks).
            for (int64_t r = 0; r < rows; ++r) {
              to.encode(values.data() + r * cols, out.data() + r * out_row_bytes, cols);
            }
            return Status::Ok();
          });
    }
    AdviseNotNeeded(src.data);
    SHRINK_RETURN_IF_ERROR(s);
    if (options.on_tensor_done) options.on_tensor_done(i, stats);
    return Status::Ok();
  });
}

}  // namespace shrink
