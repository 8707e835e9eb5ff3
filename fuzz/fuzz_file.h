// Support for the harnesses in fuzz/: a fuzz input as a path the readers can open, and a scratch
// folder for harnesses that write files.
//
// The readers take paths (they map or stream whole files), so each input is put in an anonymous
// memory file (memfd_create) and named /proc/self/fd/N: nothing touches the disk, nothing is left
// behind after a crash, and mmap/fopen see an ordinary regular file.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "base/check.h"
#include "base/status.h"

namespace shrink::fuzz {

class InputFile {
 public:
  // Holds `data` (size bytes) as the file at path(). Aborts if the kernel refuses a memfd (a broken
  // environment, not a finding).
  InputFile(const uint8_t* data, size_t size) {
    fd_ = memfd_create("shrink-fuzz-input", MFD_CLOEXEC);
    SHRINK_CHECK(fd_ >= 0);
    size_t done = 0;
    while (done < size) {
      const ssize_t n = write(fd_, data + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      SHRINK_CHECK(n > 0);
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { close(fd_); }

  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// The house style for errors on bad input (docs/architecture.md, "Errors as values"): one line that
// names the file. Prints the message and aborts (a finding) otherwise.
inline void CheckError(const Status& status, const std::string& path) {
  SHRINK_CHECK(!status.ok());
  const std::string& message = status.message();
  if (message.find('\n') != std::string::npos || message.find(path) == std::string::npos) {
    std::fprintf(stderr, "error message is not one line naming %s: %s\n", path.c_str(),
                 message.c_str());
    SHRINK_CHECK(false);
  }
}

// A folder of this process under /dev/shm (tmpfs), for harnesses that exercise writers (which
// create a temp file and rename it, so a memfd will not do). Created on first use, removed at exit.
inline const std::filesystem::path& ScratchDir() {
  // Never destroyed, so the exit handler may still use it.
  static const std::filesystem::path* dir = [] {
    auto* d = new std::filesystem::path(std::filesystem::path("/dev/shm") /
                                        ("shrink-fuzz-" + std::to_string(getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(ScratchDir(), ignored);
    });
    return d;
  }();
  return *dir;
}

}  // namespace shrink::fuzz
