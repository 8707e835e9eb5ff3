// Weights: every tensor of a Llama-family transformer, listed ONCE.
//
// Each tensor is a TensorView {name, role, layer, type, shape, data}. ForEachTensor visits them all
// in one fixed order (token_embd, per layer attn_norm, attn_q, attn_k, attn_v, attn_output,
// ffn_norm, ffn_gate, ffn_up, ffn_down, then output_norm, output), so loading, saving, quantizing
// and pruning walk the same list and never keep a parallel list in sync by hand.
//
// Ownership is flexible: `data` spans point into storage that Weights keeps alive through `storage`
// (a mapped file, a GgufFile, or buffers a quantizer produced). Replacing a tensor's data means
// pointing its view at a new buffer and pushing that buffer onto `storage`.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/types.h"
#include "model/config.h"

namespace shrink {

// What a tensor is for. GGUF names follow from role + layer (TensorName).
enum class TensorRole {
  kTokenEmbd,
  kAttnNorm,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnOutput,
  kFfnNorm,
  kFfnGate,
  kFfnUp,
  kFfnDown,
  kOutputNorm,
  kOutput,
};
// The GGUF base name of a role: "token_embd", "attn_q", "output_norm", ...
std::string_view TensorRoleName(TensorRole role);
// The GGUF tensor name: "token_embd.weight", "blk.3.attn_q.weight" (layer < 0 for non-layer
// tensors).
std::string TensorName(TensorRole role, int layer);

struct TensorView {
  std::string name;  // GGUF name, e.g. "blk.0.ffn_up.weight"
  TensorRole role = TensorRole::kTokenEmbd;
  int layer = -1;  // -1 for token_embd, output_norm, output
  TensorType type = TensorType::kF32;
  // ggml order: shape[0] is the contiguous dimension. A matrix W: (rows, cols) has shape {cols,
  // rows}; a norm vector has shape {C}.
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;  // encoded in `type`, rows consecutive

  bool present() const { return !data.empty(); }
  int64_t cols() const { return shape.empty() ? 0 : shape[0]; }
  int64_t rows() const { return shape.size() < 2 ? 1 : shape[1]; }
  int64_t element_count() const;
  // The data as F32. REQUIRES: type == kF32.
  std::span<const float> f32() const;
};

struct LayerWeights {
  TensorView attn_norm;    // (C)
  TensorView attn_q;       // W: (n_heads * head_dim, C)
  TensorView attn_k;       // W: (n_kv_heads * head_dim, C)
  TensorView attn_v;       // W: (n_kv_heads * head_dim, C)
  TensorView attn_output;  // W: (C, n_heads * head_dim)
  TensorView ffn_norm;     // (C)
  TensorView ffn_gate;     // W: (ffn_dim, C)
  TensorView ffn_up;       // W: (ffn_dim, C)
  TensorView ffn_down;     // W: (C, ffn_dim)
};

struct Weights {
  TensorView token_embd;  // (vocab, C)
  std::vector<LayerWeights> layers;
  TensorView output_norm;  // (C)
  TensorView output;       // (vocab, C); absent (no data, empty name) when embeddings are tied
  // Keeps the memory behind every view alive (mapped files, owned buffers).
  std::vector<std::shared_ptr<const void>> storage;

  // Builds the list for `config`: names, roles, layers and the shapes the config implies; types F32
  // and no data yet. `output` is listed only when the embeddings are untied.
  static Weights Skeleton(const Config& config);

  // Visits every listed tensor once, in the fixed order above. `fn(TensorView&)` (or const&)
  // returning void. Absent views (tied `output`) are skipped.
  template <typename Fn>
  void ForEachTensor(Fn&& fn) {
    ForEachImpl(*this, fn);
  }
  template <typename Fn>
  void ForEachTensor(Fn&& fn) const {
    ForEachImpl(*this, fn);
  }

  // The matrix the final projection uses: `output`, or `token_embd` when tied.
  const TensorView& output_matrix() const { return output.name.empty() ? token_embd : output; }

 private:
  template <typename Self, typename Fn>
  static void ForEachImpl(Self& self, Fn& fn) {
    fn(self.token_embd);
    for (auto& l : self.layers) {
      fn(l.attn_norm);
      fn(l.attn_q);
      fn(l.attn_k);
      fn(l.attn_v);
      fn(l.attn_output);
      fn(l.ffn_norm);
      fn(l.ffn_gate);
      fn(l.ffn_up);
      fn(l.ffn_down);
    }
    fn(self.output_norm);
    if (!self.output.name.empty()) fn(self.output);
  }
};

}  // namespace shrink
