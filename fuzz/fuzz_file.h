// Support for the harnesses in fuzz/: a fuzz input as a path the readers can open, the check that a
// reader's error is in the house style, outcome tallies, and a scratch folder for harnesses that
// write files.
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
#include <map>
#include <string>
#include <string_view>
#include <utility>

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

// Outcome statistics for the "input classes" table of BENCHMARKS.md: with SHRINK_FUZZ_STATS set in
// the environment, CountOutcome tallies how inputs end ("rejected: truncated or size mismatch",
// "loaded and evaluated", ...) and the tallies are printed to stderr at exit ("outcome<TAB>name<TAB>
// count" lines). Without it, Outcomes() is null and counting costs one branch.
using OutcomeCounts = std::map<std::string, uint64_t>;
inline OutcomeCounts* Outcomes() {
  static OutcomeCounts* counts = []() -> OutcomeCounts* {
    if (std::getenv("SHRINK_FUZZ_STATS") == nullptr) return nullptr;
    std::atexit([] {
      for (const auto& [name, n] : *Outcomes()) {
        std::fprintf(stderr, "outcome\t%s\t%llu\n", name.c_str(),
                     static_cast<unsigned long long>(n));
      }
    });
    return new OutcomeCounts;  // never destroyed: the exit handler reads it
  }();
  return counts;
}
inline void CountOutcome(const std::string& outcome) {
  if (OutcomeCounts* counts = Outcomes()) ++(*counts)[outcome];
}

// The class of a reader's error, from the words its message uses (the same words across readers:
// errors are written in one style).
inline std::string ErrorClass(std::string_view message) {
  static constexpr std::pair<std::string_view, std::string_view> kClasses[] = {
      {"magic", "bad magic"},
      {"version", "unsupported version"},
      {"overflow", "size arithmetic overflow"},
      {"more than 2^64", "size arithmetic overflow"},
      {"duplicate", "duplicate key or tensor name"},
      {"unknown", "unknown type or name"},
      {"not supported", "unknown type or name"},
      {"missing", "missing key or tensor"},
      {"power of two", "bad offset or alignment"},
      {"not a multiple", "bad offset, alignment or block"},
      {"overlaps", "bad offset or alignment"},
      {"dimension", "bad shape"},
      {"n_dims", "bad shape"},
      {"has shape", "bad shape"},
      {"invalid UTF-8", "invalid UTF-8"},
      {"runs past", "truncated or size mismatch"},
      {"past the end", "truncated or size mismatch"},
      {"cannot fit", "truncated or size mismatch"},
      {"truncated", "truncated or size mismatch"},
      {"shorter", "truncated or size mismatch"},
      {"implies", "truncated or size mismatch"},
      {"needs", "truncated or size mismatch"},
      {"need at least", "truncated or size mismatch"},
      {"has type", "wrong value type"},
      {"holds", "wrong value type"},
      {"expected", "value out of range"},
      {"outside", "value out of range"},
  };
  for (const auto& [word, name] : kClasses) {
    if (message.find(word) != std::string_view::npos) return "rejected: " + std::string(name);
  }
  return "rejected: other";
}

// The house style for errors on bad input (docs/architecture.md, "Errors as values"): one line that
// names the file. Prints the message and aborts (a finding) otherwise; counts the error's class
// (after `label`, for harnesses that read one input more than once).
inline void CheckError(const Status& status, const std::string& path, std::string_view label = "") {
  SHRINK_CHECK(!status.ok());
  const std::string& message = status.message();
  if (message.find('\n') != std::string::npos || message.find(path) == std::string::npos) {
    std::fprintf(stderr, "error message is not one line naming %s: %s\n", path.c_str(),
                 message.c_str());
    SHRINK_CHECK(false);
  }
  if (Outcomes() != nullptr) CountOutcome(std::string(label) + ErrorClass(message));
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
