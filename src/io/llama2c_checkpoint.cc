#include "io/llama2c_checkpoint.h"

#include <fmt/format.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "base/checked_math.h"

namespace shrink {
namespace {

constexpr int64_t kHeaderBytes = 7 * sizeof(int32_t);

// Upper bounds of the header fields, in file order (field i at offset 4·i). They are far above any
// model stored in this format and above today's largest open models (dim 16384, hidden 53248, 126
// layers, 128 heads, vocab 262144, 131072 positions), so they reject only garbage: a header of
// random bytes names its first absurd field instead of a size in exabytes.
struct FieldBound {
  const char* name;
  int64_t max;
};
constexpr FieldBound kFields[7] = {
    {"dim", 1 << 16},        {"hidden_dim", 1 << 20}, {"n_layers", 1 << 10}, {"n_heads", 1 << 16},
    {"n_kv_heads", 1 << 16}, {"vocab_size", 1 << 24}, {"seq_len", 1 << 24}};

// `raw` is the header as stored; vocab_size (field 5) is checked by magnitude (its sign only says
// whether the classifier is shared).
Status CheckHeader(const int32_t (&raw)[7], const Llama2cHeader& h) {
  for (int i = 0; i < 7; ++i) {
    const int64_t value = i == 5 ? std::abs(int64_t{raw[i]}) : raw[i];
    if (value <= 0 || value > kFields[i].max) {
      return Status::Errorf("header field {} (offset {}) is {}, expected 1 to {}{}",
                            kFields[i].name, 4 * i, raw[i], kFields[i].max,
                            i == 5 ? " in magnitude (negative: separate classifier)" : "");
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

// One F32 array of the file, in file order, and its size in floats (nullopt: does not fit in 64
// bits).
struct Array {
  const char* name;
  std::optional<int64_t> floats;
};

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
  SHRINK_RETURN_IF_ERROR(error(CheckHeader(raw, h)));

  // Sizes in floats, in file order. The bounds above keep them far below 2^63, and they are
  // computed with checked arithmetic all the same: a size that wraps can equal the file's size.
  const int64_t dim = h.dim, hidden = h.hidden_dim, L = h.n_layers, V = h.vocab_size;
  const int64_t hs = h.head_size(), seq = h.seq_len;
  const int64_t q_dim = dim;                          // n_heads · head_size: n_heads divides dim
  const int64_t kv_dim = int64_t{h.n_kv_heads} * hs;  // <= dim: n_kv_heads divides n_heads
  const Array arrays[] = {
      {"token_embedding", CheckedProduct({V, dim})},
      {"rms_att", CheckedProduct({L, dim})},
      {"wq", CheckedProduct({L, q_dim, dim})},
      {"wk", CheckedProduct({L, kv_dim, dim})},
      {"wv", CheckedProduct({L, kv_dim, dim})},
      {"wo", CheckedProduct({L, dim, q_dim})},
      {"rms_ffn", CheckedProduct({L, dim})},
      {"w1", CheckedProduct({L, hidden, dim})},
      {"w2", CheckedProduct({L, dim, hidden})},
      {"w3", CheckedProduct({L, hidden, dim})},
      {"rms_final", dim},
      {"freq_cis_real", CheckedProduct({seq, hs / 2})},
      {"freq_cis_imag", CheckedProduct({seq, hs / 2})},
      {"wcls", h.shared_classifier ? std::optional<int64_t>(0) : CheckedProduct({V, dim})}};
  std::optional<int64_t> expected = kHeaderBytes;
  for (const Array& a : arrays) {
    const std::optional<int64_t> array_bytes =
        a.floats ? CheckedMul<int64_t>(*a.floats, sizeof(float)) : std::nullopt;
    if (array_bytes) expected = CheckedAdd(*expected, *array_bytes);
    if (!array_bytes || !expected) {
      return error(Status::Errorf(
          "header (dim {}, hidden_dim {}, n_layers {}, n_heads {}, n_kv_heads {}, vocab {}, "
          "seq_len {}) implies a file larger than 2^63 bytes (at array {})",
          h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len,
          a.name));
    }
  }
  if (static_cast<int64_t>(bytes.size()) != *expected) {
    return error(Status::Errorf(
        "file is {} bytes, but its header (dim {}, hidden_dim {}, n_layers {}, n_heads {}, "
        "n_kv_heads {}, vocab {}, seq_len {}, {} classifier) implies {} bytes",
        bytes.size(), h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size,
        h.seq_len, h.shared_classifier ? "shared" : "separate", *expected));
  }
  const float* p = reinterpret_cast<const float*>(bytes.data() + kHeaderBytes);
  std::span<const float>* targets[] = {
      &c.token_embedding, &c.rms_att, &c.wq, &c.wk, &c.wv,       &c.wo,
      &c.rms_ffn,         &c.w1,      &c.w2, &c.w3, &c.rms_final};
  for (int i = 0; i < 11; ++i) {
    *targets[i] = {p, static_cast<size_t>(*arrays[i].floats)};
    p += *arrays[i].floats;
  }
  p += *arrays[11].floats + *arrays[12].floats;  // freq_cis_real, freq_cis_imag
  c.wcls = h.shared_classifier ? c.token_embedding : std::span<const float>(p, *arrays[13].floats);
  c.file = std::move(file);
  return c;
}

}  // namespace shrink
