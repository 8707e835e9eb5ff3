// Writes GGUF v3 files: deterministic bytes, written atomically (io/atomic_file.h), either from
// tensors already in memory (WriteGguf) or streamed tensor by tensor from a producer
// (WriteGgufStreaming), so that a compressed model never has to be held whole in memory.
//
// Layout as in io/gguf.h: header, metadata in the given order, tensor table in the given order,
// zero padding to the alignment, then each tensor's bytes followed by zero padding to the alignment
// (also after the last, as ggml and gguf-py do). The alignment is general.alignment when present (a
// u32 power of two), else 32. Offsets are assigned in order, each tensor starting where the
// previous one's padding ends, so a canonical file read with GgufFile and written back is
// byte-identical. Every tensor's type id must be in the types table (formats/types.h); its byte
// size is GgufTensorBytes of its type and shape, so the table can be written before any tensor's
// bytes exist.
//
// Atomicity: bytes go to "<path>.tmp.<pid>" in the same folder, which is fsynced and renamed over
// `path` only when every tensor is complete. On any error (bad input, a producer's error, a wrong
// byte count, I/O) the temp file is removed and nothing appears at `path`; a crash can leave the
// temp file, never a partial file at `path`.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/gguf.h"

namespace shrink {

// One tensor-table entry, declared before its bytes are produced.
struct GgufTensorDecl {
  std::string name;
  std::vector<int64_t> shape;  // ggml order, 1..4 dimensions, each > 0
  uint32_t type_id = 0;        // a ggml type id in formats/types.h
};

// Where a producer puts the bytes of one tensor (WriteGgufStreaming). The bytes may come in any
// number of pieces; together they must be exactly size() bytes.
// Thread-compatible: call it from one thread, only during the producer call that received it.
class GgufTensorSink {
 public:
  virtual ~GgufTensorSink() = default;

  virtual size_t index() const = 0;                  // the tensor's position in the table
  virtual const GgufTensorDecl& tensor() const = 0;  // its declaration
  virtual const TypeTraits& type() const = 0;        // its type's row in the types table
  virtual uint64_t size() const = 0;     // bytes it must have: GgufTensorBytes(type, shape)
  virtual uint64_t written() const = 0;  // bytes appended so far

  // Appends `bytes`, written straight to the file (the sink keeps no copy). Errors: an I/O
  // failure, or written() + bytes.size() > size(): "71 bytes produced, expected exactly 68 (type
  // Q8_0, shape [64, 1])" (the writer puts the path and tensor name in front). Nothing is appended
  // then, and the write fails even if the producer goes on and returns OK.
  virtual Status Append(std::span<const uint8_t> bytes) = 0;

  // Appends `n` bytes that the caller writes in place: returns writable space for them in the
  // writer's one reusable buffer (grown to the largest such request so far, so memory stays bounded
  // by the largest tensor). The span is valid until the next Append or AppendInPlace on this sink
  // or until the producer returns, whichever comes first; its bytes reach the file then. Errors as
  // for Append.
  virtual Result<std::span<uint8_t>> AppendInPlace(uint64_t n) = 0;
};

// Produces tensor `index` (0, 1, ... in table order, each exactly once) into `sink`. A non-OK
// Status aborts the write; the writer returns it with the file path and tensor name in front.
using GgufTensorProducer = std::function<Status(size_t index, GgufTensorSink& sink)>;

// Writes `metadata` and the table of `tensors`, then asks `produce` for each tensor in order and
// streams its bytes to the file. Everything in the header is validated before the file is created.
// Memory: the encoded header (released before the first tensor) plus the sink's in-place buffer
// (at most the largest tensor; none if the producer only uses Append).
// Errors (nothing is left at `path` then): duplicate keys or tensor names, a value whose stored
// type does not match its C++ kind or range, an array element whose type differs from the array's
// element type, a bad general.alignment, a bad shape, an unknown type id or a row that is not whole
// blocks, an error from `produce`, a tensor whose produced bytes are not exactly its size (named,
// with both counts), an I/O failure.
// REQUIRES: `produce` is callable when `tensors` is not empty.
Status WriteGgufStreaming(const std::string& path,
                          std::span<const std::pair<std::string, GgufValue>> metadata,
                          std::span<const GgufTensorDecl> tensors,
                          const GgufTensorProducer& produce);

// The size in bytes of the file WriteGgufStreaming writes for `metadata` and `tensors` (header,
// metadata, tensor table, padding, every tensor's bytes and padding), computed without producing
// any tensor or touching any file, e.g. for a --dry-run. Validation and errors as the writer's.
Result<uint64_t> GgufFileSize(std::span<const std::pair<std::string, GgufValue>> metadata,
                              std::span<const GgufTensorDecl> tensors);

// A tensor whose bytes are already in memory.
struct GgufTensorToWrite {
  std::string name;
  std::vector<int64_t> shape;     // ggml order, 1..4 dimensions, each > 0
  uint32_t type_id = 0;           // a ggml type id in formats/types.h
  std::span<const uint8_t> data;  // the tensor's bytes, exactly as they go to the file
};

// WriteGgufStreaming with each tensor's `data` as its bytes (no copy is made). Same errors; `data`
// must be exactly GgufTensorBytes of the tensor's type and shape.
Status WriteGguf(const std::string& path,
                 std::span<const std::pair<std::string, GgufValue>> metadata,
                 std::span<const GgufTensorToWrite> tensors);

// The tensors of an opened file, as writer input (data spans point into `file`'s mapping).
std::vector<GgufTensorToWrite> TensorsToWrite(const GgufFile& file);
// The tensor table of an opened file, as streaming-writer declarations.
std::vector<GgufTensorDecl> TensorDecls(const GgufFile& file);

}  // namespace shrink
