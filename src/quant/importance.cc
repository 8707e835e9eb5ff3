#include "quant/importance.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "base/check.h"
#include "calib/linear_input.h"

namespace shrink {
namespace {

// llama-quantize copies these strings into char[128] overrides.
constexpr size_t kMaxOverrideString = 127;

// Matrices stacked in a tensor of `shape` (ggml order): the dimensions past rows and columns.
int64_t StackedMatrices(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (size_t i = 2; i < shape.size(); ++i) n *= shape[i];
  return n;
}

// True when llama-imatrix collects this tensor's input by default: a linear product inside a
// block (it has no entry for token_embd, a lookup, nor for output.weight without
// --process-output).
bool ImatrixCollects(const TensorView& t) {
  const TensorSpec& spec = SpecOf(t.role);
  return spec.linear && BlockLinears(t.layer, t.role);
}

// The entry `e` (named `name` in the imatrix at `path`) against the tensor it weighs: as many
// columns as its rows are long and as many matrices (1 for a 2-D tensor).
Status CheckEntry(const ImatrixTensor& e, std::string_view name, std::string_view path,
                  const TensorView& src) {
  if (e.columns != src.cols()) {
    return Status::Errorf(
        "{}: entry '{}' has {} columns, but the model's tensor has rows of {} (shape {}): is the "
        "imatrix from another model?",
        path, name, e.columns, src.cols(), fmt::join(src.shape, " x "));
  }
  if (e.matrices() != StackedMatrices(src.shape)) {
    return Status::Errorf(
        "{}: entry '{}' has {} matrices of {} columns, but the model's tensor has {} (shape {}): "
        "is the imatrix from another model?",
        path, name, e.matrices(), e.columns, StackedMatrices(src.shape),
        fmt::join(src.shape, " x "));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<float>> ImportanceFor(const ImatrixData& imatrix, std::string_view path,
                                         const TensorView& tensor, std::string_view name) {
  const auto it = imatrix.tensors.find(std::string(name));
  if (it == imatrix.tensors.end()) return std::vector<float>{};
  SHRINK_RETURN_IF_ERROR(CheckEntry(it->second, name, path, tensor));
  return MeanSquares(imatrix.format, it->second);
}

Result<AttachedImportance> AttachImatrix(const ImatrixData& imatrix, std::string_view path,
                                         QuantPlan& plan) {
  SHRINK_CHECK(plan.with_imatrix);
  AttachedImportance out;
  std::set<std::string_view> matched;
  const size_t entries = imatrix.tensors.size();
  for (TensorPlan& t : plan.tensors) {
    t.importance_use = ImportanceUse::kNone;
    t.importance = {};
    const TensorView& src = *t.source;
    if (t.copied() || src.shape.size() < 2) continue;
    const auto it = imatrix.tensors.find(src.name);
    if (it == imatrix.tensors.end()) {
      if (ImatrixCollects(src)) {
        return Status::Errorf(
            "{}: no entry for '{}', a linear input the plan re-encodes to {} (the imatrix has {} "
            "entries: is it from another model?)",
            path, src.name, Traits(t.type).name, entries);
      }
      t.importance_use = ImportanceUse::kNoEntry;
      ++out.no_entry;
      continue;
    }
    const ImatrixTensor& e = it->second;
    SHRINK_RETURN_IF_ERROR(CheckEntry(e, src.name, path, src));
    matched.insert(it->first);
    if (Traits(t.type).encode_weighted == nullptr) {
      t.importance_use = ImportanceUse::kTypeUnweighted;
      ++out.type_unweighted;
      continue;
    }
    std::vector<float>& w = out.weights[src.name];
    w = MeanSquares(imatrix.format, e);
    t.importance = w;  // the map's node (and so the vector) stays where it is
    t.importance_use = ImportanceUse::kUsed;
    ++out.used;
  }
  out.unused_entries = static_cast<int>(entries - matched.size());
  return out;
}

std::vector<std::pair<std::string, GgufValue>> ImatrixMetadata(const ImatrixData& imatrix,
                                                               std::string_view path) {
  auto cut = [](std::string_view s) {
    return std::string(s.substr(0, std::min(s.size(), kMaxOverrideString)));
  };
  std::vector<std::pair<std::string, GgufValue>> out;
  out.emplace_back("quantize.imatrix.file", GgufValue::String(cut(path)));
  if (!imatrix.datasets.empty()) {
    out.emplace_back("quantize.imatrix.dataset", GgufValue::String(cut(imatrix.datasets[0])));
  }
  out.emplace_back("quantize.imatrix.entries_count",
                   GgufValue::U32(static_cast<uint32_t>(imatrix.tensors.size())));
  if (imatrix.chunk_count > 0) {
    out.emplace_back("quantize.imatrix.chunks_count",
                     GgufValue::U32(static_cast<uint32_t>(imatrix.chunk_count)));
  }
  return out;
}

}  // namespace shrink
