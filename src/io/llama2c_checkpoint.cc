#include "io/llama2c_checkpoint.h"

#include <fmt/format.h>

#include <climits>
#include <cstring>

namespace shrink {
namespace {

constexpr int64_t kHeaderBytes = 7 * sizeof(int32_t);

Status CheckHeader(const Llama2cHeader& h) {
  const std::pair<const char*, int32_t> fields[] = {
      {"dim", h.dim},         {"hidden_dim", h.hidden_dim}, {"n_layers", h.n_layers},
      {"n_heads", h.n_heads}, {"n_kv_heads", h.n_kv_heads}, {"vocab_size", h.vocab_size},
      {"seq_len", h.seq_len}};
  for (int i = 0; i < 7; ++i) {
    if (fields[i].second <= 0) {
      return Status::Errorf("header field {} (offset {}) is {}, expected > 0", fields[i].first,
                            4 * i, fields[i].second);
    }
  }
  if (h.dim % h.n_heads != 0) {
    return Status::Errorf("header: dim {} is not a multiple of n_heads {}", h.dim, h.n_heads);
  }
  if (h.n_heads % h.n_kv_heads != 0) {
    return Status::Errorf("header: n_heads {} is not a multiple of n_kv_heads {}", h.n_heads,
                          h.n_kv_heads);
  }
  if (h.head_size() % 2 != 0) {
    return Status::Errorf("header: head size {} (dim / n_heads) is odd; RoPE needs pairs",
                          h.head_size());
  }
  return Status::Ok();
}

}  // namespace

Result<Llama2cCheckpoint> Llama2cCheckpoint::Open(const std::string& path) {
  auto mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  auto file = std::make_shared<const MappedFile>(std::move(mapped).value());
  const std::span<const uint8_t> bytes = file->bytes();
  auto error = [&](const Status& s) { return s.WithContext(fmt::format("reading {}", path)); };
  if (static_cast<int64_t>(bytes.size()) < kHeaderBytes) {
    return error(
        Status::Errorf("file is {} bytes, shorter than the 28-byte llama2.c header", bytes.size()));
  }
  int32_t raw[7];
  std::memcpy(raw, bytes.data(), sizeof(raw));
  Llama2cCheckpoint c;
  c.path = path;
  Llama2cHeader& h = c.header;
  h.dim = raw[0], h.hidden_dim = raw[1], h.n_layers = raw[2], h.n_heads = raw[3];
  h.n_kv_heads = raw[4], h.seq_len = raw[6];
  h.shared_classifier = raw[5] > 0;
  h.vocab_size = raw[5] == INT32_MIN ? 0 : (raw[5] < 0 ? -raw[5] : raw[5]);
  SHRINK_RETURN_IF_ERROR(error(CheckHeader(h)));

  // Sizes in floats, in file order. int64 products of positive int32 fields cannot overflow.
  const int64_t dim = h.dim, hidden = h.hidden_dim, L = h.n_layers, V = h.vocab_size;
  const int64_t hs = h.head_size(), q_dim = h.n_heads * hs, kv_dim = h.n_kv_heads * hs;
  const int64_t sizes[] = {V * dim,
                           L * dim,
                           L * q_dim * dim,
                           L * kv_dim * dim,
                           L * kv_dim * dim,
                           L * dim * q_dim,
                           L * dim,
                           L * hidden * dim,
                           L * dim * hidden,
                           L * hidden * dim,
                           dim,
                           h.seq_len * hs / 2,
                           h.seq_len * hs / 2,
                           h.shared_classifier ? 0 : V * dim};
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  const int64_t expected = kHeaderBytes + total * static_cast<int64_t>(sizeof(float));
  if (static_cast<int64_t>(bytes.size()) != expected) {
    return error(Status::Errorf(
        "file is {} bytes, but its header (dim {}, hidden_dim {}, n_layers {}, n_heads {}, "
        "n_kv_heads {}, vocab {}, seq_len {}, {} classifier) implies {} bytes",
        bytes.size(), h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size,
        h.seq_len, h.shared_classifier ? "shared" : "separate", expected));
  }
  const float* p = reinterpret_cast<const float*>(bytes.data() + kHeaderBytes);
  std::span<const float>* targets[] = {
      &c.token_embedding, &c.rms_att, &c.wq, &c.wk, &c.wv,       &c.wo,
      &c.rms_ffn,         &c.w1,      &c.w2, &c.w3, &c.rms_final};
  for (int i = 0; i < 11; ++i) {
    *targets[i] = {p, static_cast<size_t>(sizes[i])};
    p += sizes[i];
  }
  p += sizes[11] + sizes[12];  // freq_cis_real, freq_cis_imag
  c.wcls = h.shared_classifier ? c.token_embedding : std::span<const float>(p, V * dim);
  c.file = std::move(file);
  return c;
}

}  // namespace shrink
