// Architectures as data: what a GGUF general.architecture means for the one transformer.
//
// Each row names an architecture and gives what its metadata does not say: RoPE ordering, the
// feed-forward activation, which extra norms its tensor set has (model/tensor_table.h lists them
// by these flags), whether embeddings are scaled, and the defaults llama.cpp assumes when an
// optional key is absent. Dimensions, epsilons and RoPE bases come from the "<arch>.*" keys, which
// share their names across architectures (model/loaders.h lists them). Adding an architecture that
// the forward pass can already express is one row here.
//
//   llama:  adjacent-pair RoPE (ggml "norm"), SwiGLU, pre-norms only.
//   gemma3: half-split RoPE (ggml "neox"), GELU-tanh gating, Q/K RMSNorm per head, norms after
//           attention and after the FFN too, embeddings × √d_model, sliding-window attention on
//           five of every six layers (RoPE base 10000 there) when <arch>.attention.sliding_window
//           is set, the "gemma" chat template when the file has none.
//   deci:   llama with per-layer head counts and FFN widths (llama.cpp's Nemotron-NAS name; what
//           width-pruned llama models with per-layer widths are written as: prune/width.h).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/status.h"
#include "kernels/activation.h"
#include "kernels/rope.h"
#include "model/config.h"

namespace shrink {

struct Architecture {
  std::string_view name;  // GGUF general.architecture
  RopeOrdering rope_ordering;
  Activation activation;
  bool qk_norm;          // attn_q_norm / attn_k_norm tensors
  bool post_norms;       // post_attention_norm / post_ffw_norm tensors
  bool scale_embedding;  // embeddings × √d_model
  // Sliding-window layers when the file sets <arch>.attention.sliding_window and no
  // <arch>.attention.sliding_window_pattern: layer l is global when l % pattern == pattern - 1.
  // 0: this architecture has no sliding-window attention.
  int32_t default_swa_pattern;
  float default_swa_rope_theta;  // RoPE base of sliding-window layers (<arch>.rope.freq_base_swa)
  // Chat template family used when the file has no tokenizer.chat_template ("" = ChatML, as
  // llama.cpp's default).
  std::string_view default_chat_template;
};

// Every supported architecture, "llama" first.
std::span<const Architecture> Architectures();
// The row for `name`, or an error listing the supported names.
Result<const Architecture*> FindArchitecture(std::string_view name);
// Sets the fields of `config` that the architecture decides (architecture name, RoPE ordering,
// activation, qk_norm, post_norms, embedding_scale from d_model). REQUIRES: d_model is set.
void ApplyArchitecture(const Architecture& arch, Config& config);

}  // namespace shrink
