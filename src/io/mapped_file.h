// A read-only memory mapping of a whole file. Move-only; unmaps on destruction.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"

namespace shrink {

class MappedFile {
 public:
  // Errors name the path and the OS reason ("cannot open x.gguf: No such file or directory").
  // An empty file maps to an empty span.
  static Result<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shrink
