// Config: the shape of one Llama-family decoder transformer, described by flags.
//
// One transformer serves every supported model; what differs between SmolLM2, stories260K
// (llama2.c), Gemma-3 and, later, pruned models is data in this struct, never a new code path.
// Architectures (model/architecture.h) fill it from file metadata. Per-layer fields (`layers`) let
// a pruned model's layers differ in head count or FFN width and let Gemma-3 mix sliding-window and
// global layers with their own RoPE bases; the model-wide fields give the defaults that loaders
// copy into every layer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kernels/activation.h"
#include "kernels/rope.h"

namespace shrink {

// RopeOrdering (adjacent pairs = ggml "norm", halves = ggml "neox") lives with the kernel:
// kernels/rope.h.
std::string_view RopeOrderingName(RopeOrdering ordering);  // "norm" / "neox", as ggml names them

// Dimensions that may differ between layers (pruning removes heads or FFN channels per layer).
struct LayerConfig {
  int32_t n_heads = 0;     // query heads
  int32_t n_kv_heads = 0;  // key/value heads; n_heads % n_kv_heads == 0 (grouped-query attention)
  int32_t ffn_dim = 0;     // hidden width of the gated feed-forward block
  int32_t sliding_window = 0;        // > 0: attends to the last `sliding_window` positions only
  float rope_theta = 10000.0f;       // RoPE base of this layer
  float rope_position_scale = 1.0f;  // linear RoPE scaling: positions × this (1 / factor)
};

struct Config {
  std::string architecture = "llama";  // GGUF general.architecture
  int32_t n_layers = 0;
  int32_t d_model = 0;     // residual stream width C
  int32_t n_heads = 0;     // model-wide default for LayerConfig::n_heads
  int32_t n_kv_heads = 0;  // model-wide default for LayerConfig::n_kv_heads
  int32_t head_dim = 0;    // per-head width; usually d_model / n_heads
  int32_t ffn_dim = 0;     // model-wide default for LayerConfig::ffn_dim
  int32_t vocab_size = 0;
  int32_t context_length = 0;   // trained context; the KV cache may be smaller
  float rms_norm_eps = 1e-5f;   // RMSNorm: y = x / sqrt(mean(x²) + eps) * w
  float rope_theta = 10000.0f;  // RoPE base: theta_i = pos * rope_theta^(-2i / rope_dims)
  RopeOrdering rope_ordering = RopeOrdering::kAdjacentPairs;
  int32_t rope_dims = 0;         // leading dims of each head that RoPE rotates (<= head_dim, even)
  bool tied_embeddings = false;  // output projection reuses token_embd
  // What distinguishes architectures beyond dimensions (model/architecture.h sets them):
  Activation activation = Activation::kSilu;  // act(gate) * up in the feed-forward block
  float embedding_scale = 1.0f;  // embeddings × this before the first layer (Gemma: √d_model)
  bool qk_norm = false;          // RMSNorm on each query and key head before RoPE (attn_q/k_norm)
  bool post_norms = false;  // RMSNorm on the attention and FFN outputs before each residual add
  float attention_scale = 0.0f;      // scores × this; 0 means 1/√head_dim
  float final_logit_softcap = 0.0f;  // > 0: logits = c·tanh(logits / c)
  std::vector<LayerConfig> layers;   // n_layers entries

  // Fills `layers` with the model-wide defaults (n_layers copies, global attention, rope_theta).
  void SetUniformLayers();
  // Checks every field for consistency (positive sizes, GQA divisibility, rope_dims even and <=
  // head_dim, layers.size() == n_layers). The message names the field and its value.
  Status Validate() const;
  // Total width of the query projection of layer `l`: n_heads * head_dim.
  int32_t q_dim(int l) const { return layers[l].n_heads * head_dim; }
  int32_t kv_dim(int l) const { return layers[l].n_kv_heads * head_dim; }
  float attention_scale_or_default() const;
  // One line describing the shape, for logs: "llama: 30 layers, d_model 576, ...".
  std::string Summary() const;
};

}  // namespace shrink
