// The bridge between the GGUF container (io/, which knows no element types) and the types table:
// tensor byte sizes from ggml type ids, and the usual way to open a model file with every tensor's
// type id and data range validated.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"
#include "io/gguf.h"

namespace shrink {

// Bytes of a tensor of ggml type `type_id` and shape `shape` (ggml order, shape[0] the row):
// RowBytes(shape[0]) × the other dimensions. Errors: "unknown tensor type id 99" (an id absent from
// formats/types.h), a row length that is not a multiple of the type's block size, a byte count that
// overflows. REQUIRES: every dimension > 0 (GgufFile::Open checks this before calling).
Result<uint64_t> GgufTensorBytes(uint32_t type_id, std::span<const int64_t> shape);

// GgufFile::Open(path, GgufTensorBytes): every tensor's type is known and its data span exact.
Result<GgufFile> OpenGguf(const std::string& path);

}  // namespace shrink
