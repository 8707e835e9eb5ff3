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

// Tells the kernel that the pages holding `bytes` will not be read again soon (MADV_PAGEOUT): clean
// pages of a mapped file leave the process's resident set and are read from the file again if
// touched, so a pass over a mapped model keeps only what it is working on resident. Safe on any
// memory: contents never change (anonymous pages without swap just stay). Pages are whole, so
// neighbours of `bytes` on its first and last page are affected too (they stay readable). A no-op
// where the kernel lacks MADV_PAGEOUT (Linux < 5.4).
void AdviseNotNeeded(std::span<const uint8_t> bytes);

}  // namespace shrink
