// llama2.c checkpoints (Karpathy's run.c "version 0" format), read memory-mapped.
//
// Layout (little-endian):
//   7 × i32 header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//     (vocab_size < 0 means the classifier is stored separately: untied; its magnitude is the
//      vocabulary)
//   then F32 arrays, row-major, in this order (head_size = dim / n_heads):
//     token_embedding (vocab, dim)
//     rms_att (n_layers, dim)
//     wq (n_layers, n_heads*head_size, dim)     wk, wv (n_layers, n_kv_heads*head_size, dim)
//     wo (n_layers, dim, n_heads*head_size)
//     rms_ffn (n_layers, dim)
//     w1 (n_layers, hidden_dim, dim)  w2 (n_layers, dim, hidden_dim)
//     w3 (n_layers, hidden_dim, dim)
//     rms_final (dim)
//     freq_cis_real, freq_cis_imag (seq_len, head_size/2) each: unused (RoPE is recomputed)
//     wcls (vocab, dim): only when vocab_size < 0
// Matrices are (out, in): y = W x with W[out][in], as ggml's (ne0 = in, ne1 = out).
// run.c's FFN is w2(silu(w1 x) * w3 x): w1 = gate, w3 = up, w2 = down.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/status.h"
#include "io/mapped_file.h"

namespace shrink {

struct Llama2cHeader {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0,
          seq_len = 0;  // vocab_size here is the magnitude (always > 0)
  bool shared_classifier = true;
  int32_t head_size() const { return dim / n_heads; }
};

struct Llama2cCheckpoint {
  std::string path;
  Llama2cHeader header;
  std::shared_ptr<const MappedFile> file;  // owns the memory behind every span below
  std::span<const float> token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final;
  std::span<const float> wcls;  // == token_embedding when the classifier is shared

  // Maps `path`, validates the header (every field in [1, bound]: dim <= 2^16, hidden_dim <= 2^20,
  // n_layers <= 2^10, heads <= 2^16, |vocab_size| and seq_len <= 2^24; n_heads divides dim,
  // n_kv_heads divides n_heads) and that the file holds exactly the bytes the header implies,
  // computed without overflow. Errors name the file, the field and its offset, or the expected and
  // actual sizes.
  static Result<Llama2cCheckpoint> Open(const std::string& path);
};

}  // namespace shrink
