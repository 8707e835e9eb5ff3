#include "formats/gguf_tensor_sizes.h"

#include <limits>

#include "formats/types.h"

namespace shrink {

Result<uint64_t> GgufTensorBytes(uint32_t type_id, std::span<const int64_t> shape) {
  const TypeTraits* traits = FindType(type_id);
  if (traits == nullptr) {
    return Status::Errorf("unknown tensor type id {}, expected one of the ids in formats/types.h",
                          type_id);
  }
  const int64_t row = shape.empty() ? 1 : shape[0];
  auto row_bytes = RowBytes(traits->type, row);
  if (!row_bytes.ok()) {
    return row_bytes.status().WithContext(fmt::format("type {}, row of {}", traits->name, row));
  }
  uint64_t bytes = static_cast<uint64_t>(*row_bytes);
  for (size_t d = 1; d < shape.size(); ++d) {
    const auto n = static_cast<uint64_t>(shape[d]);
    if (bytes > std::numeric_limits<uint64_t>::max() / n) {
      return Status::Errorf("type {}: byte size overflows at dimension {}", traits->name, d);
    }
    bytes *= n;
  }
  return bytes;
}

Result<GgufFile> OpenGguf(const std::string& path) { return GgufFile::Open(path, GgufTensorBytes); }

}  // namespace shrink
