// Test helper: assembles GGUF bytes field by field, independently of the writer, so reader tests
// can build valid files and corrupt them at known offsets.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "testing/test_paths.h"

namespace shrink::testing {

class GgufBytes {
 public:
  template <typename T>
  GgufBytes& Put(T v) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
    return *this;
  }
  GgufBytes& Str(std::string_view s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  GgufBytes& Header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    // "GGUF" as a little-endian u32 (an insert of the 4 chars trips GCC 12's -Wstringop-overflow).
    return Put<uint32_t>(0x46554747)
        .Put<uint32_t>(version)
        .Put<uint64_t>(tensors)
        .Put<uint64_t>(kvs);
  }
  GgufBytes& Key(std::string_view key, uint32_t type) { return Str(key).Put<uint32_t>(type); }
  GgufBytes& Tensor(std::string_view name, std::vector<int64_t> shape, uint32_t type,
                    uint64_t offset) {
    Str(name).Put<uint32_t>(static_cast<uint32_t>(shape.size()));
    for (int64_t d : shape) Put<int64_t>(d);
    return Put<uint32_t>(type).Put<uint64_t>(offset);
  }
  GgufBytes& Pad(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  GgufBytes& Fill(size_t n, uint8_t v) {
    bytes_.insert(bytes_.end(), n, v);
    return *this;
  }
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

  // Writes the first `n` bytes (all by default) to `path` and returns it as a string.
  std::string WriteTo(const std::filesystem::path& path, size_t n = SIZE_MAX) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes_.data()),
              static_cast<std::streamsize>(std::min(n, bytes_.size())));
    return path.string();
  }

 private:
  std::vector<uint8_t> bytes_;
};

// Path of the cached SmolLM2 model (scripts/fetch-models), present or not.
inline std::filesystem::path SmolLm2Path() {
  return CachedModelPath("smollm2-135m-instruct-q4_1.gguf");
}

}  // namespace shrink::testing
