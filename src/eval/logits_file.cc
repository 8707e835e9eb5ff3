#include "eval/logits_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/check.h"
#include "base/checked_math.h"

namespace shrink {
namespace {

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

// Bytes of one chunk's rows. At most 2^30 rows × (2^31 + 4) words × 2 bytes < 2^63: cannot
// overflow for int32 fields (ReadChunk relies on it; the file total is checked).
uint64_t ChunkBytes(int32_t n_ctx, int32_t n_vocab) {
  return uint64_t(ScoredPerChunk(n_ctx)) * LogProbRowWords(n_vocab) * sizeof(uint16_t);
}

// The bytes of `values` as stored (the format is little-endian, like the host).
template <typename T>
std::span<const uint8_t> AsBytes(std::span<const T> values) {
  return {reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()};
}

}  // namespace

std::optional<uint64_t> LogitsFileHeader::ExpectedFileBytes() const {
  SHRINK_CHECK(n_ctx >= 0 && n_vocab >= 0 && n_chunk >= 0);
  const std::optional<uint64_t> token_bytes =
      CheckedProduct<uint64_t>({uint64_t(n_chunk), uint64_t(n_ctx), sizeof(TokenId)});
  const std::optional<uint64_t> row_bytes =
      CheckedMul<uint64_t>(uint64_t(n_chunk), ChunkBytes(n_ctx, n_vocab));
  if (!token_bytes || !row_bytes) return std::nullopt;
  const std::optional<uint64_t> data = CheckedAdd(*token_bytes, *row_bytes);
  return data ? CheckedAdd<uint64_t>(kLogitsFileHeaderBytes, *data) : std::nullopt;
}

Result<LogitsFileWriter> LogitsFileWriter::Create(const std::string& path,
                                                  const LogitsFileHeader& header) {
  SHRINK_CHECK(header.tokens.size() == size_t(header.n_chunk) * header.n_ctx);
  SHRINK_ASSIGN_OR_RETURN(AtomicFileWriter file, AtomicFileWriter::Create(path));
  const int32_t fields[3] = {header.n_ctx, header.n_vocab, header.n_chunk};
  SHRINK_RETURN_IF_ERROR(file.Write(AsBytes(std::span<const char>(kLogitsFileMagic))));
  SHRINK_RETURN_IF_ERROR(file.Write(AsBytes(std::span<const int32_t>(fields))));
  SHRINK_RETURN_IF_ERROR(file.Write(AsBytes(std::span<const TokenId>(header.tokens))));
  return LogitsFileWriter(std::move(file), header.n_chunk);
}

Status LogitsFileWriter::WriteChunk(std::span<const uint16_t> rows) {
  SHRINK_CHECK(written_ < n_chunk_);
  SHRINK_RETURN_IF_ERROR(file_.Write(AsBytes(rows)));
  ++written_;
  return Status::Ok();
}

Status LogitsFileWriter::Finish() {
  SHRINK_CHECK(written_ == n_chunk_);
  return file_.Commit();
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
  const std::optional<uint64_t> implied = h.ExpectedFileBytes();
  if (!implied) {
    return Status::Errorf(
        "{}: file is {} bytes but its header (n_ctx {}, n_vocab {}, n_chunk {}) implies more than "
        "2^64 bytes",
        path, size, h.n_ctx, h.n_vocab, h.n_chunk);
  }
  const uint64_t expected = *implied;
  if (size != expected) {
    return Status::Errorf(
        "{}: file is {} bytes but its header (n_ctx {}, n_vocab {}, n_chunk {}) implies {} bytes{}",
        path, size, h.n_ctx, h.n_vocab, h.n_chunk, expected,
        size < expected ? " (truncated?)" : " (trailing data)");
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
