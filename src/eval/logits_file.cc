#include "eval/logits_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/check.h"

namespace shrink {
namespace {

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

uint64_t ChunkBytes(int32_t n_ctx, int32_t n_vocab) {
  return uint64_t(ScoredPerChunk(n_ctx)) * LogProbRowWords(n_vocab) * sizeof(uint16_t);
}

}  // namespace

std::optional<uint64_t> LogitsFileHeader::ExpectedFileBytes() const {
  // ChunkBytes is below 2^63 for any int32 fields; the products with n_chunk may not be.
  const unsigned __int128 total =
      kLogitsFileHeaderBytes + static_cast<unsigned __int128>(n_chunk) * n_ctx * sizeof(TokenId) +
      static_cast<unsigned __int128>(n_chunk) * ChunkBytes(n_ctx, n_vocab);
  if (total > UINT64_MAX) return std::nullopt;
  return static_cast<uint64_t>(total);
}

Result<LogitsFileWriter> LogitsFileWriter::Create(const std::string& path,
                                                  const LogitsFileHeader& header) {
  SHRINK_CHECK(header.tokens.size() == size_t(header.n_chunk) * header.n_ctx);
  const std::string tmp = path + ".tmp";
  FilePtr file(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!file) return Status::Errorf("cannot create {}: {}", tmp, std::strerror(errno));
  const int32_t fields[3] = {header.n_ctx, header.n_vocab, header.n_chunk};
  if (std::fwrite(kLogitsFileMagic, 1, 8, file.get()) != 8 ||
      std::fwrite(fields, sizeof(int32_t), 3, file.get()) != 3 ||
      std::fwrite(header.tokens.data(), sizeof(TokenId), header.tokens.size(), file.get()) !=
          header.tokens.size()) {
    return Status::Errorf("cannot write {}: {}", tmp, std::strerror(errno));
  }
  return LogitsFileWriter(path, std::move(file), header.n_chunk);
}

Status LogitsFileWriter::WriteChunk(std::span<const uint16_t> rows) {
  SHRINK_CHECK(written_ < n_chunk_);
  if (std::fwrite(rows.data(), sizeof(uint16_t), rows.size(), file_.get()) != rows.size()) {
    return Status::Errorf("cannot write {}.tmp: {}", path_, std::strerror(errno));
  }
  ++written_;
  return Status::Ok();
}

Status LogitsFileWriter::Finish() {
  SHRINK_CHECK(written_ == n_chunk_);
  const std::string tmp = path_ + ".tmp";
  FILE* f = file_.release();
  if (std::fclose(f) != 0) return Status::Errorf("cannot write {}: {}", tmp, std::strerror(errno));
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return Status::Errorf("cannot rename {} to {}: {}", tmp, path_, std::strerror(errno));
  }
  return Status::Ok();
}

Result<LogitsFileReader> LogitsFileReader::Open(const std::string& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return Status::Errorf("cannot open {}: {}", path, std::strerror(errno));
  struct stat st;
  if (fstat(fileno(file.get()), &st) != 0) {
    return Status::Errorf("cannot stat {}: {}", path, std::strerror(errno));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kLogitsFileHeaderBytes) {
    return Status::Errorf(
        "{}: truncated base-logits file: {} bytes, the header alone needs {} (magic, n_ctx, "
        "n_vocab, "
        "n_chunk)",
        path, size, kLogitsFileHeaderBytes);
  }
  char magic[8];
  int32_t fields[3];
  if (std::fread(magic, 1, 8, file.get()) != 8 || std::fread(fields, 4, 3, file.get()) != 3) {
    return Status::Errorf("cannot read {}: {}", path, std::strerror(errno));
  }
  if (std::memcmp(magic, kLogitsFileMagic, 8) != 0) {
    return Status::Errorf(
        "{}: bad magic at offset 0: expected \"_logits_\" (a llama-perplexity --kl-divergence-base "
        "file)",
        path);
  }
  LogitsFileHeader h;
  h.n_ctx = fields[0], h.n_vocab = fields[1], h.n_chunk = fields[2];
  if (h.n_ctx < 2)
    return Status::Errorf("{}: n_ctx at offset 8 is {}, expected >= 2", path, h.n_ctx);
  if (h.n_vocab < 1) {
    return Status::Errorf("{}: n_vocab at offset 12 is {}, expected >= 1", path, h.n_vocab);
  }
  if (h.n_chunk < 1) {
    return Status::Errorf("{}: n_chunk at offset 16 is {}, expected >= 1", path, h.n_chunk);
  }
  const std::optional<uint64_t> expected = h.ExpectedFileBytes();
  if (!expected.has_value()) {
    return Status::Errorf(
        "{}: file is {} bytes but its header (n_ctx {}, n_vocab {}, n_chunk {}) implies more than "
        "2^64 bytes",
        path, size, h.n_ctx, h.n_vocab, h.n_chunk);
  }
  if (size != *expected) {
    return Status::Errorf(
        "{}: file is {} bytes but its header (n_ctx {}, n_vocab {}, n_chunk {}) implies {} bytes{}",
        path, size, h.n_ctx, h.n_vocab, h.n_chunk, *expected,
        size < *expected ? " (truncated?)" : " (trailing data)");
  }
  h.tokens.resize(size_t(h.n_chunk) * h.n_ctx);
  if (std::fread(h.tokens.data(), sizeof(TokenId), h.tokens.size(), file.get()) !=
      h.tokens.size()) {
    return Status::Errorf("cannot read {}: tokens at offset {}", path, kLogitsFileHeaderBytes);
  }
  for (size_t i = 0; i < h.tokens.size(); ++i) {
    if (h.tokens[i] < 0 || h.tokens[i] >= h.n_vocab) {
      return Status::Errorf("{}: token {} at offset {} is {}, expected 0 <= id < n_vocab ({})",
                            path, i, kLogitsFileHeaderBytes + i * sizeof(TokenId), h.tokens[i],
                            h.n_vocab);
    }
  }
  return LogitsFileReader(path, std::move(file), std::move(h));
}

Status LogitsFileReader::ReadChunk(int32_t chunk, std::span<uint16_t> rows) {
  SHRINK_CHECK(chunk >= 0 && chunk < header_.n_chunk);
  const uint64_t chunk_bytes = ChunkBytes(header_.n_ctx, header_.n_vocab);
  SHRINK_CHECK(rows.size_bytes() == chunk_bytes);
  const uint64_t offset = kLogitsFileHeaderBytes + header_.tokens.size() * sizeof(TokenId) +
                          uint64_t(chunk) * chunk_bytes;
  if (fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0 ||
      std::fread(rows.data(), 1, chunk_bytes, file_.get()) != chunk_bytes) {
    return Status::Errorf("cannot read {}: chunk {} at offset {}: {}", path_, chunk, offset,
                          std::strerror(errno));
  }
  // Each row's scale must be finite and >= 0, or its log-probs are garbage.
  const size_t words = LogProbRowWords(header_.n_vocab);
  for (size_t r = 0; r < rows.size() / words; ++r) {
    float scale, min_log_prob;
    std::memcpy(&scale, rows.data() + r * words, 4);
    std::memcpy(&min_log_prob, rows.data() + r * words + 2, 4);
    if (!(scale >= 0) || !std::isfinite(scale) || !std::isfinite(min_log_prob)) {
      return Status::Errorf(
          "{}: chunk {} row {} at offset {}: scale {} / min log-prob {}, expected "
          "finite values with scale >= 0",
          path_, chunk, r, offset + r * words * 2, scale, min_log_prob);
    }
  }
  return Status::Ok();
}

}  // namespace shrink
