#include "io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <utility>

#include "base/check.h"

namespace shrink {
namespace {

// The pid in `name` if it is "<prefix><digits>" naming a positive pid_t; else 0.
pid_t TempPid(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return 0;
  const std::string_view digits = name.substr(prefix.size());
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0) return 0;
  return pid;
}

// Removes "<path>.tmp.<pid>" files whose writer is gone (a SIGKILLed run of this or another
// program using this writer): only ESRCH proves that no process has the pid; EPERM means one does
// (another user's), so its file stays. Errors (unreadable folder, a file removed meanwhile) are
// ignored: the cleanup is a courtesy, never a reason to fail the write.
void RemoveDeadWritersTemps(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const pid_t pid = TempPid(name, prefix);
    if (pid == 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

}  // namespace

Result<AtomicFileWriter> AtomicFileWriter::Create(const std::string& path) {
  RemoveDeadWritersTemps(path);
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
