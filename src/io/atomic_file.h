// AtomicFileWriter: writes a file so that readers see either the old file or the complete new one,
// never a half-written one. Bytes go to "<path>.tmp.<pid>" in the same folder; Commit() flushes,
// fsyncs and renames it over `path`. Destroying the writer without Commit() removes the temp file.
//
// A process killed mid-write (SIGKILL, power loss) cannot remove its temp, so Create() first removes
// the temps of `path` left by dead writers: every "<path>.tmp.<pid>" in the folder whose pid no
// process has (kill(pid, 0) fails with ESRCH). Temps of live processes (a concurrent writer of the
// same output) are kept, and so are other outputs' temps. Caveat: a dead writer's pid reused by an
// unrelated live process keeps that temp until the pid is free again; and a folder shared between
// machines (NFS) sees the other machine's pids as dead, so do not write one output from two hosts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "base/status.h"

namespace shrink {

class AtomicFileWriter {
 public:
  // Removes dead writers' temps of `path` (see above; failures to remove are ignored), then
  // creates this process's temp. Errors name the temp path and the OS reason.
  static Result<AtomicFileWriter> Create(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // Appends `bytes`. REQUIRES: not yet committed.
  Status Write(std::span<const uint8_t> bytes);
  // Appends `n` zero bytes (padding).
  Status WriteZeros(uint64_t n);
  // Flushes, fsyncs, renames the temp file to the final path and fsyncs the folder.
  // After an error the temp file is removed and the final path is untouched.
  Status Commit();

  uint64_t bytes_written() const { return written_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFileWriter(std::string path, std::string temp_path, std::FILE* file)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), file_(file) {}
  void Abandon();  // closes and removes the temp file, if any

  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;
};

}  // namespace shrink
