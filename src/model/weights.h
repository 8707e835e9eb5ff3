// Weights: every tensor of a transformer, as views {name, role, layer, type, shape, data}.
//
// Which tensors exist, their GGUF names and their shapes come from ONE table
// (model/tensor_table.h); Skeleton, ForEachTensor and ForEachTensorTogether are driven by it, so
// loading, saving, quantizing, pruning and an optimizer walk the same list and never keep a
// parallel list in sync by hand.
//
// Ownership is flexible: `data` spans point into storage that Weights keeps alive through `storage`
// (a mapped file, a GgufFile, or buffers a quantizer produced). Replacing a tensor's data means
// pointing its view at a new buffer and pushing that buffer onto `storage`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/types.h"
#include "model/config.h"
#include "model/tensor_table.h"

namespace shrink {

struct TensorView {
  std::string name;  // GGUF name, e.g. "blk.0.ffn_up.weight"; empty when not listed
  TensorRole role = TensorRole::kTokenEmbd;
  int layer = -1;                        // -1 for token_embd, output_norm, output
  TensorPart part = TensorPart::kWhole;  // a low-rank factor of `role`'s matrix, or the whole
  TensorType type = TensorType::kF32;
  // ggml order: shape[0] is the contiguous dimension. A matrix W: (rows, cols) has shape {cols,
  // rows}; a norm vector has shape {C}.
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;  // encoded in `type`, rows consecutive

  bool listed() const { return !name.empty(); }
  bool present() const { return !data.empty(); }
  int64_t cols() const { return shape.empty() ? 0 : shape[0]; }
  int64_t rows() const { return shape.size() < 2 ? 1 : shape[1]; }
  int64_t element_count() const;
  // The data as F32. REQUIRES: type == kF32.
  std::span<const float> f32() const;
};

// A linear stored as a low-rank factor pair, W ≈ B · A (model/tensor_table.h, TensorPart).
// A: (r, cols of W), B: (rows of W, r). Both unlisted unless the linear is factored.
struct LowRankPair {
  TensorView a;
  TensorView b;

  bool listed() const { return a.listed(); }
  int64_t rank() const { return a.rows(); }
};

// Shapes as W: (rows, cols); Q = n_heads·head_dim, KV = n_kv_heads·head_dim, F = ffn_dim.
struct LayerWeights {
  TensorView attn_norm;       // (C)
  TensorView attn_q;          // W: (Q, C)
  TensorView attn_k;          // W: (KV, C)
  TensorView attn_v;          // W: (KV, C)
  TensorView attn_q_norm;     // (head_dim), qk_norm only
  TensorView attn_k_norm;     // (head_dim), qk_norm only
  TensorView attn_output;     // W: (C, Q)
  TensorView attn_post_norm;  // (C), post_norms only
  TensorView ffn_norm;        // (C)
  TensorView ffn_gate;        // W: (F, C)
  TensorView ffn_up;          // W: (F, C)
  TensorView ffn_down;        // W: (C, F)
  TensorView ffn_post_norm;   // (C), post_norms only
  // Indexed by role: the factor pair of a factored linear (whose whole view is then unlisted).
  std::array<LowRankPair, kTensorRoleCount> low_rank;

  const LowRankPair& factors(TensorRole role) const { return low_rank[static_cast<size_t>(role)]; }
};

// Replaces the whole view of linear `role` in `layer` by a factor pair of rank `rank`: names and
// shapes from the tensor table, type F32, no data yet (the caller fills both). The whole view
// becomes unlisted, so visits see A and B in its place.
// REQUIRES: Factorable(SpecOf(role)), the whole view listed, 1 <= rank.
void FactorizeLinear(LayerWeights& layer, TensorRole role, int64_t rank);

struct Weights {
  TensorView token_embd;  // (vocab, C)
  std::vector<LayerWeights> layers;
  TensorView output_norm;  // (C)
  TensorView output;       // (vocab, C); not listed when embeddings are tied
  // Keeps the memory behind every view alive (mapped files, owned buffers).
  std::vector<std::shared_ptr<const void>> storage;

  // Builds the list for `config` from the tensor table: names, roles, layers and the shapes the
  // config implies; types F32 and no data yet. Tensors the config does not have (untied `output`,
  // Q/K norms without qk_norm, ...) stay unlisted.
  static Weights Skeleton(const Config& config);

  // Visits every listed tensor once, in table order: token_embd, then per layer the layer rows,
  // then output_norm and output. A factored linear is visited as its A then its B, in its place.
  // `fn(TensorView&)` (or const&) returning void.
  template <typename Fn>
  void ForEachTensor(Fn&& fn) {
    ForEachTensorTogether(fn, *this);
  }
  template <typename Fn>
  void ForEachTensor(Fn&& fn) const {
    ForEachTensorTogether(fn, *this);
  }

  // Walks several Weights of the same skeleton in step (weights, gradients, Adam moments):
  // fn(a.t, b.t, ...) for every tensor t listed in `first` (factor pairs included: the others
  // must list the same pairs).
  // REQUIRES: every argument was built from the same Config (same layer count).
  template <typename Fn, typename First, typename... Rest>
  static void ForEachTensorTogether(Fn&& fn, First& first, Rest&... rest);

  // The matrix the final projection uses: `output`, or `token_embd` when tied.
  const TensorView& output_matrix() const { return output.listed() ? output : token_embd; }
};

template <typename Fn, typename First, typename... Rest>
void Weights::ForEachTensorTogether(Fn&& fn, First& first, Rest&... rest) {
  const std::span<const TensorSpec> table = TensorTable();
  for (size_t i = 0; i < table.size();) {
    if (table[i].scope == TensorScope::kModel) {
      const auto member = table[i].model_member;
      if ((first.*member).listed()) fn(first.*member, rest.*member...);
      ++i;
      continue;
    }
    // A run of layer rows: visited layer by layer, so one layer's tensors stay together.
    size_t end = i;
    while (end < table.size() && table[end].scope == TensorScope::kLayer) ++end;
    for (size_t l = 0; l < first.layers.size(); ++l) {
      for (size_t r = i; r < end; ++r) {
        const auto member = table[r].layer_member;
        if ((first.layers[l].*member).listed()) {
          fn(first.layers[l].*member, rest.layers[l].*member...);
          continue;
        }
        const auto role = static_cast<size_t>(table[r].role);
        if (first.layers[l].low_rank[role].listed()) {
          fn(first.layers[l].low_rank[role].a, rest.layers[l].low_rank[role].a...);
          fn(first.layers[l].low_rank[role].b, rest.layers[l].low_rank[role].b...);
        }
      }
    }
    i = end;
  }
}

}  // namespace shrink
