#include "quant/quantized_gguf.h"

#include <algorithm>

#include "base/check.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "quant/convert_rows.h"

namespace shrink {
namespace {

void SetU32(GgufMetadata& metadata, std::string_view key, uint32_t value) {
  for (auto& [k, v] : metadata) {
    if (k == key) {
      v = GgufValue::U32(value);
      return;
    }
  }
  metadata.emplace_back(std::string(key), GgufValue::U32(value));
}

// Converts tensor `t` a slab of rows at a time. With importance weights, each row is encoded with
// its matrix's row of weights (one per matrix of a stacked tensor), so a slab never crosses from
// one matrix into the next.
Status ConvertTensor(const TensorPlan& t, GgufTensorSink& sink, int threads, RowEncoding encoding) {
  const TensorView& src = *t.source;
  const TypeTraits& from = Traits(src.type);
  const TypeTraits& to = Traits(t.type);
  const int64_t row_length = src.cols();
  const int64_t rows = src.element_count() / row_length;
  const int64_t rows_per_matrix = src.rows();
  const bool weighted = t.importance_use == ImportanceUse::kUsed;
  SHRINK_CHECK(!weighted ||
               static_cast<int64_t>(t.importance.size()) == row_length * (rows / rows_per_matrix));
  SHRINK_ASSIGN_OR_RETURN(const int64_t in_row_bytes, RowBytes(from.type, row_length));
  SHRINK_ASSIGN_OR_RETURN(const int64_t out_row_bytes, RowBytes(to.type, row_length));
  SHRINK_CHECK(static_cast<int64_t>(src.data.size()) == rows * in_row_bytes);
  const int64_t slab_rows =
      std::max<int64_t>(1, static_cast<int64_t>(kSlabBytes) / std::max<int64_t>(1, out_row_bytes));
  for (int64_t r = 0; r < rows;) {
    int64_t n = std::min(slab_rows, rows - r);
    std::span<const float> importance;
    if (weighted) {
      n = std::min(n, rows_per_matrix - r % rows_per_matrix);
      importance = t.importance.subspan((r / rows_per_matrix) * row_length, row_length);
    }
    SHRINK_ASSIGN_OR_RETURN(std::span<uint8_t> out, sink.AppendInPlace(n * out_row_bytes));
    SHRINK_RETURN_IF_ERROR(ConvertRows(from, src.data.subspan(r * in_row_bytes, n * in_row_bytes),
                                       to, out, row_length, threads, r, importance, encoding));
    r += n;
  }
  return Status::Ok();
}

// Streams tensor `t` into `sink`: copied when it keeps its type, else converted. Its source pages
// are then let go (they are mapped file pages for models from LoadModel), so that memory holds
// about one tensor of the source rather than all of it.
Status ProduceTensor(const TensorPlan& t, GgufTensorSink& sink, const QuantizeOptions& options) {
  const TensorView& src = *t.source;
  const Status s = t.copied()
                       ? sink.Append(src.data)
                       : ConvertTensor(t, sink, std::max(1, options.threads), options.encoding);
  AdviseNotNeeded(src.data);
  return s;
}

}  // namespace

GgufMetadata QuantizedMetadata(std::span<const std::pair<std::string, GgufValue>> source,
                               const QuantMix& mix) {
  GgufMetadata out(source.begin(), source.end());
  SetU32(out, "general.quantization_version", kGgmlQuantizationVersion);
  SetU32(out, "general.file_type", mix.llama_ftype);
  return out;
}

std::vector<GgufTensorDecl> PlanTensorDecls(const QuantPlan& plan) {
  std::vector<GgufTensorDecl> decls;
  decls.reserve(plan.tensors.size());
  for (const TensorPlan& t : plan.tensors) {
    decls.push_back({t.source->name, t.source->shape, static_cast<uint32_t>(t.type)});
  }
  return decls;
}

Status WriteQuantizedGguf(const std::string& path,
                          std::span<const std::pair<std::string, GgufValue>> metadata,
                          const QuantPlan& plan, const QuantizeOptions& options) {
  SHRINK_CHECK(CheckEncodable(plan).ok());
  const std::vector<GgufTensorDecl> decls = PlanTensorDecls(plan);
  return WriteGgufStreaming(path, metadata, decls, [&](size_t i, GgufTensorSink& sink) {
    SHRINK_RETURN_IF_ERROR(ProduceTensor(plan.tensors[i], sink, options));
    if (options.on_tensor_done) options.on_tensor_done(i + 1, plan.tensors.size());
    return Status::Ok();
  });
}

Result<uint64_t> QuantizedFileSize(std::span<const std::pair<std::string, GgufValue>> metadata,
                                   const QuantPlan& plan) {
  return GgufFileSize(metadata, PlanTensorDecls(plan));
}

}  // namespace shrink
