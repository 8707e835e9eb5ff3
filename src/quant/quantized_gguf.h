// Writing a quantized model: the output file's metadata and its tensors, streamed.
//
//   auto metadata = QuantizedMetadata(model.metadata, mix);
//   QuantPlan plan = PlanQuantization(model.config, order, mix);
//   SHRINK_RETURN_IF_ERROR(CheckEncodable(plan));
//   SHRINK_RETURN_IF_ERROR(WriteQuantizedGguf("out.gguf", metadata, plan, {.threads = 8}));
//
// Tensors are written in plan order through WriteGgufStreaming (io/gguf_writer.h): a tensor that
// keeps its stored type is copied byte for byte; any other is decoded row by row to F32 and encoded
// in its new type (quant/convert_rows.h; importance-weighted where the plan says so,
// quant/importance.h), a slab of rows at a time, so memory stays at one slab
// (kSlabBytes of output) plus one F32 row per thread, whatever the model's size; the source's pages
// are advised out of memory after each tensor (io/mapped_file.h AdviseNotNeeded), so a mapped
// source keeps about one tensor resident. The file appears at `path` only when complete (temp file +
// rename).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "model/config_metadata.h"
#include "quant/convert_rows.h"
#include "quant/plan.h"

namespace shrink {

// general.quantization_version that llama.cpp writes (GGML_QNT_VERSION) and requires for
// quantized files.
inline constexpr uint32_t kGgmlQuantizationVersion = 2;

// The source's key/values in order, with general.file_type = mix.llama_ftype and
// general.quantization_version = 2, both u32 as llama.cpp writes them. A key the source has is
// replaced where it stands (so a source whose types the mix reproduces is rewritten byte for byte);
// a missing one is appended. (llama-quantize instead moves both keys to the end; the file's size
// is the same either way.)
GgufMetadata QuantizedMetadata(std::span<const std::pair<std::string, GgufValue>> source,
                               const QuantMix& mix);

// The declarations (name, shape, new type) of the plan's tensors, in plan order.
std::vector<GgufTensorDecl> PlanTensorDecls(const QuantPlan& plan);

struct QuantizeOptions {
  int threads = 1;  // rows of one tensor are encoded on this many threads
  RowEncoding encoding = RowEncoding::kReference;  // quant/convert_rows.h
  // Called after each tensor with (tensors done, total); may be empty.
  std::function<void(size_t, size_t)> on_tensor_done = nullptr;
};

// Output bytes converted per slab (per AppendInPlace): bounds the writer's buffer.
inline constexpr uint64_t kSlabBytes = uint64_t{8} << 20;

// Writes `metadata` and the plan's tensors to `path`.
// REQUIRES: CheckEncodable(plan) is OK.
// Errors (nothing is left at `path`): the writer's (a bad path or folder, I/O), a non-finite weight
// (named by tensor, row and column).
Status WriteQuantizedGguf(const std::string& path,
                          std::span<const std::pair<std::string, GgufValue>> metadata,
                          const QuantPlan& plan, const QuantizeOptions& options);

// The size of the file WriteQuantizedGguf would write (for --dry-run).
Result<uint64_t> QuantizedFileSize(std::span<const std::pair<std::string, GgufValue>> metadata,
                                   const QuantPlan& plan);

}  // namespace shrink
