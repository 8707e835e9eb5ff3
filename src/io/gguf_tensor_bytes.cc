// Tensor types and byte sizes in GGUF tensor tables, from the types table (formats/types.h).
#include <limits>

#include "io/gguf.h"

namespace shrink {

Result<const TypeTraits*> GgufTensorType(uint32_t type_id) {
  const TypeTraits* traits = FindType(type_id);
  if (traits == nullptr) {
    return Status::Errorf("unknown tensor type id {}, expected one of the ids in formats/types.h",
                          type_id);
  }
  return traits;
}

Result<uint64_t> GgufTensorBytes(const TypeTraits& type, std::span<const int64_t> shape) {
  const int64_t row = shape.empty() ? 1 : shape[0];
  auto row_bytes = RowBytes(type.type, row);
  if (!row_bytes.ok()) return row_bytes.status();  // names the type and the row length
  uint64_t bytes = static_cast<uint64_t>(*row_bytes);
  for (size_t d = 1; d < shape.size(); ++d) {
    const auto n = static_cast<uint64_t>(shape[d]);
    if (bytes > std::numeric_limits<uint64_t>::max() / n) {
      return Status::Errorf("type {}: byte size overflows 64 bits at dimension {}", type.name, d);
    }
    bytes *= n;
  }
  return bytes;
}

}  // namespace shrink
