// Checks before a command commits to a context length: the model's trained context, and whether
// the large allocations the run needs fit in this machine's physical memory. Both fail with one
// line that says how much and why, instead of std::bad_alloc or minutes of work past what the
// model was trained for.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "formats/types.h"

namespace shrink::cli {

// Errors when `positions` (what `what` asks for, e.g. "--ctx 1024") exceeds the model's trained
// context (Config::context_length), unless `allow_long_context` (--allow-long-context).
Status CheckTrainedContext(std::string_view what, int64_t positions, int32_t context_length,
                           bool allow_long_context);

// One large allocation a run will make.
struct Allocation {
  std::string what;  // "attention probabilities (9 heads × 4096 × 4096 floats)"
  double bytes;
};

// Physical memory of this machine (sysconf), or 0 when unknown.
double PhysicalMemoryBytes();

// "23.4 GB", "11.4 MB", "512 B" (decimal units).
std::string FormatBytes(double bytes);

// Errors when the allocations together need more than `physical_bytes` (PhysicalMemoryBytes(); 0
// skips the check): "--ctx 100000 needs about 363.2 GB (KV cache ... 2.0 GB, ...), more than the
// 23.4 GB of physical memory".
Status CheckFitsInMemory(std::string_view what, std::span<const Allocation> allocations,
                         double physical_bytes = PhysicalMemoryBytes());

// The folder of an output file must exist: checked before any work, as a writer would only find
// out at the end. Error: "out/x.gguf: the output folder 'out' does not exist".
Status CheckOutputFolder(const std::string& out_path);

// --kv-type (generate, perplexity, bench): the KV cache's element type. "f16" halves the cache
// (model/transformer.h KvCache); anything else is F32 (the flag's validator allows f32 and f16).
inline constexpr const char* kKvTypeHelp =
    "KV cache element type: f32, or f16 (half the memory; keys and values rounded to F16)";
inline TensorType KvTypeFromFlag(std::string_view name) {
  return name == "f16" ? TensorType::kF16 : TensorType::kF32;
}

}  // namespace shrink::cli
