#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "base/check.h"

namespace shrink {

Result<AtomicFileWriter> AtomicFileWriter::Create(const std::string& path) {
  std::string temp_path = fmt::format("{}.tmp.{}", path, ::getpid());
  std::FILE* file = std::fopen(temp_path.c_str(), "wbe");  // "e": O_CLOEXEC
  if (file == nullptr) {
    return Status::Errorf("cannot create {}: {}", temp_path, std::strerror(errno));
  }
  return AtomicFileWriter(path, std::move(temp_path), file);
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      file_(std::exchange(other.file_, nullptr)),
      written_(other.written_) {}

AtomicFileWriter& AtomicFileWriter::operator=(AtomicFileWriter&& other) noexcept {
  if (this != &other) {
    Abandon();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    file_ = std::exchange(other.file_, nullptr);
    written_ = other.written_;
  }
  return *this;
}

AtomicFileWriter::~AtomicFileWriter() { Abandon(); }

void AtomicFileWriter::Abandon() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(temp_path_.c_str());
}

Status AtomicFileWriter::Write(std::span<const uint8_t> bytes) {
  SHRINK_CHECK(file_ != nullptr);
  if (bytes.empty()) return Status::Ok();
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Status::Errorf("writing {} at offset {}: {}", temp_path_, written_,
                          std::strerror(errno));
  }
  written_ += bytes.size();
  return Status::Ok();
}

Status AtomicFileWriter::WriteZeros(uint64_t n) {
  static constexpr uint8_t kZeros[256] = {};
  while (n > 0) {
    const uint64_t chunk = std::min<uint64_t>(n, sizeof(kZeros));
    SHRINK_RETURN_IF_ERROR(Write({kZeros, chunk}));
    n -= chunk;
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  SHRINK_CHECK(file_ != nullptr);
  auto fail = [&](const char* what, const std::string& name) {
    Status s = Status::Errorf("{} {}: {}", what, name, std::strerror(errno));
    Abandon();
    return s;
  };
  if (std::fflush(file_) != 0) return fail("flushing", temp_path_);
  if (::fsync(::fileno(file_)) != 0) return fail("syncing", temp_path_);
  if (std::fclose(std::exchange(file_, nullptr)) != 0) {
    Status s = Status::Errorf("closing {}: {}", temp_path_, std::strerror(errno));
    std::remove(temp_path_.c_str());
    return s;
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    Status s = Status::Errorf("renaming {} to {}: {}", temp_path_, path_, std::strerror(errno));
    std::remove(temp_path_.c_str());
    return s;
  }
  // Make the rename itself durable; failure here is not worth failing the write over.
  std::string folder = std::filesystem::path(path_).parent_path().string();
  if (folder.empty()) folder = ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

}  // namespace shrink
