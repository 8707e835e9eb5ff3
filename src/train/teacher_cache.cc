#include "train/teacher_cache.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "base/hash64.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"

namespace shrink::train {
namespace {

constexpr char kMagic[8] = {'S', 'H', 'R', 'I', 'N', 'K', 'T', 'K'};
constexpr char kRecordMagic[4] = {'T', 'K', 'R', 'C'};
constexpr uint32_t kVersion = 1;
constexpr size_t kCheckAt = 88;  // the header's check value

uint64_t RecordBytes(const TeacherCacheKey& k) {
  const uint64_t seq = static_cast<uint64_t>(k.seq), top = static_cast<uint64_t>(k.k);
  return 16 + 4 * seq + 8 * seq * top + 4 * seq + 8;
}

template <typename T>
void Put(std::vector<uint8_t>& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof(T));
}
template <typename T>
T Get(const std::vector<uint8_t>& in, size_t at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof(T));
  return value;
}

std::vector<uint8_t> HeaderBytes(const TeacherCacheKey& k) {
  std::vector<uint8_t> h(TeacherCache::kHeaderBytes, 0);
  std::memcpy(h.data(), kMagic, 8);
  Put<uint32_t>(h, 8, kVersion);
  Put<uint32_t>(h, 12, static_cast<uint32_t>(TeacherCache::kHeaderBytes));
  Put<uint64_t>(h, 16, k.teacher_bytes);
  Put<uint64_t>(h, 24, k.teacher_hash);
  Put<float>(h, 32, k.tau);
  Put<uint32_t>(h, 36, static_cast<uint32_t>(k.k));
  Put<uint64_t>(h, 40, static_cast<uint64_t>(k.seq));
  Put<uint64_t>(h, 48, static_cast<uint64_t>(k.vocab));
  Put<uint64_t>(h, 56, k.data_tokens);
  Put<uint64_t>(h, 64, k.data_hash);
  Put<uint64_t>(h, 72, static_cast<uint64_t>(k.windows));
  Put<uint64_t>(h, 80, RecordBytes(k));
  Put<uint64_t>(h, kCheckAt, HashBytes({h.data(), kCheckAt}));
  return h;
}

// Reads exactly `count` bytes at `offset`; false at end of file.
Result<bool> ReadAt(int fd, uint8_t* dst, size_t count, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < count) {
    const ssize_t r = pread(fd, dst + done, count - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::Errorf("{}: read at offset {}: {}", path, offset, strerror(errno));
    if (r == 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

Status WriteAt(int fd, const uint8_t* src, size_t count, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < count) {
    const ssize_t w = pwrite(fd, src + done, count - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      return Status::Errorf("{}: write at offset {}: {}", path, offset + done,
                            w < 0 ? strerror(errno) : "no progress");
    }
    done += static_cast<size_t>(w);
  }
  return Status::Ok();
}

// The header's fields against this run's, the first difference named.
Status CheckHeader(const std::vector<uint8_t>& h, const TeacherCacheKey& k,
                   const std::string& path) {
  if (std::memcmp(h.data(), kMagic, 8) != 0) {
    return Status::Errorf("{}: not a shrink teacher cache (no SHRINKTK magic at offset 0)", path);
  }
  if (Get<uint32_t>(h, 8) != kVersion || Get<uint32_t>(h, 12) != TeacherCache::kHeaderBytes) {
    return Status::Errorf("{}: teacher cache version {} (header {} bytes) at offset 8, expected {}",
                          path, Get<uint32_t>(h, 8), Get<uint32_t>(h, 12), kVersion);
  }
  if (Get<uint64_t>(h, kCheckAt) != HashBytes({h.data(), kCheckAt})) {
    return Status::Errorf("{}: the header's check value at offset {} does not match (corrupt)",
                          path, kCheckAt);
  }
  auto differs = [&](std::string_view field, const std::string& cached, const std::string& now) {
    return Status::Errorf(
        "{}: the cache was made with {} {}, this run has {}: it holds another teacher "
        "distribution, so it is not reused; give another --teacher-cache file or remove this one",
        path, field, cached, now);
  };
  if (Get<uint64_t>(h, 16) != k.teacher_bytes || Get<uint64_t>(h, 24) != k.teacher_hash) {
    return differs(
        "teacher",
        fmt::format("file ({} bytes, hash {:016x})", Get<uint64_t>(h, 16), Get<uint64_t>(h, 24)),
        fmt::format("{} bytes, hash {:016x}", k.teacher_bytes, k.teacher_hash));
  }
  const float tau = Get<float>(h, 32);
  if (std::memcmp(&tau, &k.tau, sizeof(float)) != 0) {
    return differs("--temperature", fmt::format("{}", tau), fmt::format("{}", k.tau));
  }
  if (Get<uint32_t>(h, 36) != static_cast<uint64_t>(k.k)) {
    return differs("--teacher-top-k", fmt::format("{}", Get<uint32_t>(h, 36)),
                   fmt::format("{}", k.k));
  }
  if (Get<uint64_t>(h, 40) != static_cast<uint64_t>(k.seq)) {
    return differs("--seq", fmt::format("{}", Get<uint64_t>(h, 40)), fmt::format("{}", k.seq));
  }
  if (Get<uint64_t>(h, 48) != static_cast<uint64_t>(k.vocab)) {
    return differs("a vocabulary of", fmt::format("{} tokens", Get<uint64_t>(h, 48)),
                   fmt::format("{}", k.vocab));
  }
  if (Get<uint64_t>(h, 56) != k.data_tokens || Get<uint64_t>(h, 64) != k.data_hash) {
    return differs(
        "--data of",
        fmt::format("{} tokens (hash {:016x})", Get<uint64_t>(h, 56), Get<uint64_t>(h, 64)),
        fmt::format("{} tokens (hash {:016x})", k.data_tokens, k.data_hash));
  }
  if (Get<uint64_t>(h, 72) != static_cast<uint64_t>(k.windows) ||
      Get<uint64_t>(h, 80) != RecordBytes(k)) {
    return Status::Errorf(
        "{}: header fields at offsets 72/80 ({} windows, {}-byte records) "
        "contradict the others (expected {} and {}; corrupt)",
        path, Get<uint64_t>(h, 72), Get<uint64_t>(h, 80), k.windows, RecordBytes(k));
  }
  return Status::Ok();
}

}  // namespace

Result<FileIdentity> IdentifyFile(const std::string& path) {
  SHRINK_ASSIGN_OR_RETURN(const MappedFile file, MappedFile::Open(path));
  return FileIdentity{.bytes = file.bytes().size(), .hash = HashBytes(file.bytes())};
}

TeacherCache::TeacherCache(std::string path, const TeacherCacheKey& key, int fd, uint64_t end)
    : path_(std::move(path)),
      key_(key),
      fd_(fd),
      end_(end),
      record_bytes_(RecordBytes(key)),
      offsets_(static_cast<size_t>(key.windows), -1),
      buffer_(static_cast<size_t>(record_bytes_)) {}

TeacherCache::TeacherCache(TeacherCache&& o) noexcept
    : path_(std::move(o.path_)),
      key_(o.key_),
      fd_(std::exchange(o.fd_, -1)),
      end_(o.end_),
      record_bytes_(o.record_bytes_),
      offsets_(std::move(o.offsets_)),
      cached_(o.cached_),
      buffer_(std::move(o.buffer_)) {}

TeacherCache& TeacherCache::operator=(TeacherCache&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(o.path_);
    key_ = o.key_;
    fd_ = std::exchange(o.fd_, -1);
    end_ = o.end_;
    record_bytes_ = o.record_bytes_;
    offsets_ = std::move(o.offsets_);
    cached_ = o.cached_;
    buffer_ = std::move(o.buffer_);
  }
  return *this;
}

TeacherCache::~TeacherCache() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

Result<TeacherCache> TeacherCache::Open(const std::string& path, const TeacherCacheKey& key) {
  SHRINK_CHECK(key.k >= 1 && key.k <= key.vocab && key.seq > 0 && key.windows > 0);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::Errorf("cannot open {}: {}", path, strerror(errno));
    SHRINK_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::Create(path));
    SHRINK_RETURN_IF_ERROR(out.Write(HeaderBytes(key)));
    SHRINK_RETURN_IF_ERROR(out.Commit());
  }
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::Errorf("cannot open {}: {}", path, strerror(errno));
  // Only a lock held elsewhere refuses; a file system without flock (ENOLCK) goes unlocked.
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    const int err = errno;
    close(fd);
    return Status::Errorf("{}: locked by another run ({}); one run appends to a cache at a time",
                          path, strerror(err));
  }
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status::Errorf("cannot stat {}: {}", path, strerror(err));
  }
  TeacherCache cache(path, key, fd, static_cast<uint64_t>(st.st_size));
  std::vector<uint8_t> header(kHeaderBytes);
  SHRINK_ASSIGN_OR_RETURN(const bool whole, ReadAt(fd, header.data(), header.size(), 0, path));
  if (!whole) {
    return Status::Errorf("{}: {} bytes, shorter than the teacher cache's {}-byte header", path,
                          st.st_size, kHeaderBytes);
  }
  SHRINK_RETURN_IF_ERROR(CheckHeader(header, key, path));
  SHRINK_RETURN_IF_ERROR(cache.ScanRecords());
  return cache;
}

Status TeacherCache::ScanRecords() {
  for (uint64_t at = kHeaderBytes; at < end_; at += record_bytes_) {
    if (end_ - at < record_bytes_) {
      return Status::Errorf(
          "{}: the record at offset {} is truncated ({} of {} bytes; an interrupted write): "
          "`truncate -s {} {}` keeps the {} whole records before it",
          path_, at, end_ - at, record_bytes_, at, path_, cached_);
    }
    SHRINK_ASSIGN_OR_RETURN(const bool whole,
                            ReadAt(fd_, buffer_.data(), buffer_.size(), at, path_));
    if (!whole) return Status::Errorf("{}: shrank while being read at offset {}", path_, at);
    const size_t check_at = buffer_.size() - 8;
    if (std::memcmp(buffer_.data(), kRecordMagic, 4) != 0 ||
        Get<uint64_t>(buffer_, check_at) != HashBytes({buffer_.data(), check_at})) {
      return Status::Errorf("{}: the record at offset {} is corrupt (magic or check value)", path_,
                            at);
    }
    const uint64_t w = Get<uint64_t>(buffer_, 8);
    if (w >= static_cast<uint64_t>(key_.windows)) {
      return Status::Errorf("{}: the record at offset {} is for window {}, past the data's {}",
                            path_, at, w, key_.windows);
    }
    if (offsets_[w] >= 0) {
      return Status::Errorf("{}: the record at offset {} repeats window {} (first at offset {})",
                            path_, at, w, offsets_[w]);
    }
    offsets_[w] = static_cast<int64_t>(at);
    ++cached_;
  }
  return Status::Ok();
}

Status TeacherCache::Read(int64_t window, std::span<const int32_t> tokens, int32_t* ids,
                          float* log_p, float* log_rest) {
  SHRINK_CHECK(Has(window) && static_cast<int64_t>(tokens.size()) == key_.seq);
  const uint64_t at = static_cast<uint64_t>(offsets_[static_cast<size_t>(window)]);
  SHRINK_ASSIGN_OR_RETURN(const bool whole, ReadAt(fd_, buffer_.data(), buffer_.size(), at, path_));
  const size_t check_at = buffer_.size() - 8;
  if (!whole || Get<uint64_t>(buffer_, check_at) != HashBytes({buffer_.data(), check_at}) ||
      Get<uint64_t>(buffer_, 8) != static_cast<uint64_t>(window)) {
    return Status::Errorf("{}: the record of window {} at offset {} changed since it was opened",
                          path_, window, at);
  }
  const size_t seq = static_cast<size_t>(key_.seq), sk = seq * static_cast<size_t>(key_.k);
  const uint8_t* p = buffer_.data() + 16;
  for (size_t i = 0; i < seq; ++i) {
    int32_t t;
    std::memcpy(&t, p + 4 * i, 4);
    if (t != tokens[i]) {
      return Status::Errorf(
          "{}: the record of window {} at offset {} holds token {} at position {}, this run's "
          "window has {}",
          path_, window, at, t, i, tokens[i]);
    }
  }
  p += 4 * seq;
  std::memcpy(ids, p, 4 * sk);
  for (size_t i = 0; i < sk; ++i) {
    if (ids[i] < 0 || ids[i] >= key_.vocab) {
      return Status::Errorf(
          "{}: the record of window {} at offset {} holds token id {}, outside "
          "the vocabulary of {}",
          path_, window, at, ids[i], key_.vocab);
    }
  }
  std::memcpy(log_p, p + 4 * sk, 4 * sk);
  std::memcpy(log_rest, p + 8 * sk, 4 * seq);
  return Status::Ok();
}

Status TeacherCache::Append(int64_t window, std::span<const int32_t> tokens, const int32_t* ids,
                            const float* log_p, const float* log_rest) {
  SHRINK_CHECK(!Has(window) && static_cast<int64_t>(tokens.size()) == key_.seq);
  const size_t seq = static_cast<size_t>(key_.seq), sk = seq * static_cast<size_t>(key_.k);
  std::memcpy(buffer_.data(), kRecordMagic, 4);
  Put<uint32_t>(buffer_, 4, 0);
  Put<uint64_t>(buffer_, 8, static_cast<uint64_t>(window));
  uint8_t* p = buffer_.data() + 16;
  std::memcpy(p, tokens.data(), 4 * seq);
  p += 4 * seq;
  std::memcpy(p, ids, 4 * sk);
  std::memcpy(p + 4 * sk, log_p, 4 * sk);
  std::memcpy(p + 8 * sk, log_rest, 4 * seq);
  const size_t check_at = buffer_.size() - 8;
  Put<uint64_t>(buffer_, check_at, HashBytes({buffer_.data(), check_at}));
  const Status written = WriteAt(fd_, buffer_.data(), buffer_.size(), end_, path_);
  if (!written.ok()) {
    // Keep the whole records: a partial one would make the next open fail.
    if (ftruncate(fd_, static_cast<off_t>(end_)) != 0) {
      return Status::Errorf("{}; truncating it back to {} bytes failed too: {}", written.message(),
                            end_, strerror(errno));
    }
    return written;
  }
  offsets_[static_cast<size_t>(window)] = static_cast<int64_t>(end_);
  end_ += record_bytes_;
  ++cached_;
  return Status::Ok();
}

}  // namespace shrink::train
