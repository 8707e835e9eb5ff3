// Writes GGUF v3 files: deterministic bytes, written atomically (io/atomic_file.h).
//
// Layout as in io/gguf.h: header, metadata in the given order, tensor table in the given order,
// zero padding to the alignment, then each tensor's bytes followed by zero padding to the alignment
// (also after the last, as ggml and gguf-py do). The alignment is general.alignment when present (a
// u32 power of two), else 32. Offsets are assigned in order, each tensor starting where the
// previous one's padding ends, so a canonical file read with GgufFile and written back is
// byte-identical.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/gguf.h"

namespace shrink {

struct GgufTensorToWrite {
  std::string name;
  std::vector<int64_t> shape;     // ggml order, 1..4 dimensions, each > 0
  uint32_t type_id = 0;           // ggml type id; the writer does not interpret it
  std::span<const uint8_t> data;  // the tensor's bytes, exactly as they go to the file
};

// Errors (nothing is left at `path` then): duplicate keys or tensor names, a value whose stored
// type does not match its C++ kind or range, an array element whose type differs from the array's
// element type, a bad general.alignment, a bad shape, an I/O failure.
Status WriteGguf(const std::string& path,
                 std::span<const std::pair<std::string, GgufValue>> metadata,
                 std::span<const GgufTensorToWrite> tensors);

// The tensors of an opened file, as writer input (data spans point into `file`'s mapping).
std::vector<GgufTensorToWrite> TensorsToWrite(const GgufFile& file);

}  // namespace shrink
