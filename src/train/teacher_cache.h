// The teacher cache: the teacher's top-k distribution (train/topk_distill.h) of every training
// window, on disk, so that later distillation runs over the same data read it instead of running
// the teacher (`shrink distill --teacher-cache FILE --teacher-top-k K`).
//
// File layout (little-endian, ours; docs/formats.md "Teacher cache"):
//   header, 96 bytes:
//     0  "SHRINKTK"           8  u32 version (1)     12 u32 header bytes (96)
//     16 u64 teacher bytes    24 u64 teacher hash    (the teacher FILE: size, Hash64 of all bytes)
//     32 f32 tau              36 u32 k               40 u64 seq (tokens per window)
//     48 u64 vocabulary       56 u64 data tokens     64 u64 data hash (Hash64 of the int32 stream)
//     72 u64 windows          80 u64 record bytes    88 u64 check (Hash64 of bytes 0..87)
//   then records, one per training window, in the order the first run met them:
//     +0 "TKRC"  +4 u32 0  +8 u64 window w (in [0, windows))
//     +16 i32 tokens[seq] (the window's inputs, checked against the window a run wants)
//     then i32 ids[seq·k], f32 log_p[seq·k], f32 log_rest[seq] (per position, as
//     SelectTeacherTopK writes them), then u64 check (Hash64 of the record's bytes before it).
//   record bytes = 16 + 4·seq + 8·seq·k + 4·seq + 8 (k = 64: 520 bytes per token).
//
// Identity: a cache belongs to one teacher distribution over one token stream, so the header keys
// it by the teacher file's size and a hash of ALL its bytes (a sample could miss a fine-tune or a
// re-quantization that changed some tensors only; hashing is one sequential read at memory speed,
// ~0.1 s for SmolLM2-135M, against minutes of teacher forwards), tau, k, seq, the vocabulary and
// the tokenized data (count and hash; the windows follow from them and seq). Not the seed, the
// student or alpha: any run over the same windows reuses the cache. Opening a cache whose header
// differs is an error naming the field; it is never reused silently.
//
// Writing: the header is written atomically (io/atomic_file.h) when the file is created; each
// record is appended with one pwrite at the end. Ctrl-C during `shrink distill` stops between
// steps (cli/train_loop.h), so the file always holds whole records; a later run reads them and
// appends the windows still missing. A write error (full disk) truncates the file back to its
// whole records. A process killed inside a write (SIGKILL, power loss) can leave a partial last
// record: opening then fails naming its offset and the size to truncate to. The file is locked
// (flock) while open, so two runs cannot append to one cache.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace shrink::train {

struct TeacherCacheKey {
  uint64_t teacher_bytes = 0, teacher_hash = 0;
  float tau = 1.0f;
  int64_t k = 0, seq = 0, vocab = 0;
  uint64_t data_tokens = 0, data_hash = 0;
  int64_t windows = 0;
};

// The size and Hash64 of every byte of the file at `path` (read through a mapping).
struct FileIdentity {
  uint64_t bytes = 0, hash = 0;
};
Result<FileIdentity> IdentifyFile(const std::string& path);

class TeacherCache {
 public:
  static constexpr uint64_t kHeaderBytes = 96;

  // Creates `path` with `key`'s header when it does not exist; otherwise checks its header
  // against `key` (an error names the first differing field, both values, and what to do) and
  // every record (magic, window in range, not repeated, check value; errors name the offset).
  // REQUIRES: key.k in [1, vocab], seq > 0, windows > 0.
  static Result<TeacherCache> Open(const std::string& path, const TeacherCacheKey& key);

  TeacherCache(TeacherCache&& other) noexcept;
  TeacherCache& operator=(TeacherCache&& other) noexcept;
  TeacherCache(const TeacherCache&) = delete;
  TeacherCache& operator=(const TeacherCache&) = delete;
  ~TeacherCache();

  const std::string& path() const { return path_; }
  uint64_t record_bytes() const { return record_bytes_; }
  int64_t cached() const { return cached_; }  // windows with a record
  bool Has(int64_t window) const { return offsets_[static_cast<size_t>(window)] >= 0; }

  // Reads window `window`'s record into ids (seq·k), log_p (seq·k), log_rest (seq), after
  // checking its check value, its window and that its tokens are `tokens` (seq). REQUIRES:
  // Has(window).
  Status Read(int64_t window, std::span<const int32_t> tokens, int32_t* ids, float* log_p,
              float* log_rest);
  // Appends window `window`'s record. REQUIRES: !Has(window), tokens.size() == seq.
  Status Append(int64_t window, std::span<const int32_t> tokens, const int32_t* ids,
                const float* log_p, const float* log_rest);

 private:
  TeacherCache(std::string path, const TeacherCacheKey& key, int fd, uint64_t end);
  Status ScanRecords();

  std::string path_;
  TeacherCacheKey key_;
  int fd_ = -1;
  uint64_t end_ = 0, record_bytes_ = 0;
  std::vector<int64_t> offsets_;  // per window: its record's offset, -1 when absent
  int64_t cached_ = 0;
  std::vector<uint8_t> buffer_;  // one record
};

}  // namespace shrink::train
