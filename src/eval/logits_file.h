// The base-logits file of llama-perplexity (`--kl-divergence-base`, read back by
// `--kl-divergence`); shrink writes it with `--save-logits` and reads it with `--kl-divergence`,
// byte-compatible both ways.
//
// Layout (little-endian, no alignment, no padding between fields):
//   char[8]  magic "_logits_"
//   i32      n_ctx            tokens per chunk
//   i32      n_vocab
//   i32      n_chunk
//   i32      tokens[n_chunk * n_ctx]   the evaluated text's tokens, as tokenized (a chunk's first
//                                      token is stored as in the text even where BOS replaced it
//                                      for the run)
//   then per chunk, per scored position (n_ctx − 1 − n_ctx/2 of them: logits of positions
//   n_ctx/2 .. n_ctx−2, which predict tokens n_ctx/2+1 .. n_ctx−1), one row of
//   LogProbRowWords(n_vocab) u16 words:
//     f32 scale, f32 min_log_prob (4 words), n_vocab × u16 q_i, one zero word when n_vocab is odd;
//     log P_i ≈ scale * q_i + min_log_prob (q_i = 0 for log-probs clamped at 16 below the top).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/atomic_file.h"
#include "text/tokenizer.h"

namespace shrink {

inline constexpr char kLogitsFileMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
inline constexpr size_t kLogitsFileHeaderBytes = 8 + 3 * sizeof(int32_t);

// u16 words per encoded row: 4 for the two floats, n_vocab rounded up to even.
constexpr size_t LogProbRowWords(int32_t n_vocab) {
  return 2 * ((static_cast<size_t>(n_vocab) + 1) / 2) + 4;
}
// Scored positions per chunk of n_ctx tokens.
constexpr int32_t ScoredPerChunk(int32_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

struct LogitsFileHeader {
  int32_t n_ctx = 0;
  int32_t n_vocab = 0;
  int32_t n_chunk = 0;
  std::vector<TokenId> tokens;  // n_chunk * n_ctx
  // Total file size implied by the header; nullopt when it does not fit in 64 bits (computed with
  // checked arithmetic: a size that wraps could equal a real file's size).
  std::optional<uint64_t> ExpectedFileBytes() const;
};

// Writes a base file through io's AtomicFileWriter: bytes go to "<path>.tmp.<pid>", fsynced and
// renamed over `path` by Finish(). A writer destroyed before Finish() (an error mid-run) removes its
// temp, and one SIGKILLed leaves only its temp, which the next write of `path` removes; so `path`
// is never a partial file, and an older file there stays until Finish().
class LogitsFileWriter {
 public:
  // REQUIRES: header.tokens.size() == n_chunk * n_ctx.
  static Result<LogitsFileWriter> Create(const std::string& path, const LogitsFileHeader& header);
  // Appends one chunk: ScoredPerChunk(n_ctx) rows of LogProbRowWords(n_vocab) words.
  Status WriteChunk(std::span<const uint16_t> rows);
  // REQUIRES: all n_chunk chunks written.
  Status Finish();

 private:
  LogitsFileWriter(AtomicFileWriter file, int32_t n_chunk)
      : file_(std::move(file)), n_chunk_(n_chunk) {}
  AtomicFileWriter file_;
  int32_t n_chunk_ = 0;
  int32_t written_ = 0;
};

// Reads a base file chunk by chunk. Open() validates the magic, the header fields and that the file
// size is exactly what they imply; errors name the file, the field and its byte offset.
class LogitsFileReader {
 public:
  static Result<LogitsFileReader> Open(const std::string& path);
  const LogitsFileHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  // Reads chunk `chunk` (0-based) into `rows` (ScoredPerChunk(n_ctx) * LogProbRowWords(n_vocab)
  // words).
  Status ReadChunk(int32_t chunk, std::span<uint16_t> rows);

 private:
  LogitsFileReader(std::string path, std::unique_ptr<FILE, int (*)(FILE*)> file,
                   LogitsFileHeader header)
      : path_(std::move(path)), file_(std::move(file)), header_(std::move(header)) {}
  std::string path_;
  std::unique_ptr<FILE, int (*)(FILE*)> file_;
  LogitsFileHeader header_;
};

}  // namespace shrink
