// The transformer forward pass: named activations, observers, per-op steps and the session.
//
// One forward serves every architecture; Config flags (model/config.h) switch Gemma-3's extras on.
// For x: (T, C), a batch of T tokens at positions [pos0, pos0 + T), each layer l computes
//
//   attn_in  = RMSNorm(x) · attn_norm                                   (norm)
//   q, k, v  = attn_in · Wqᵀ, attn_in · Wkᵀ, attn_in · Wvᵀ              (qkv)
//   q, k     = RoPE(RMSNorm_head(q) · q_norm), RoPE(RMSNorm_head(k) · k_norm)   (qk_norm: Gemma)
//   att      = softmax(q·kᵀ · scale, causal [sliding window]) · v   over the KV cache   (attention)
//   att_proj = att · Woᵀ                       [att_post = RMSNorm(att_proj) · post_attn_norm]
//   x       += att_proj (or att_post)                                    (residual)
//   ffn_in   = RMSNorm(x) · ffn_norm
//   gate, up = ffn_in · Wgateᵀ, ffn_in · Wupᵀ;   hidden = act(gate) · up   (SiLU or GELU-tanh)
//   ffn_out  = hidden · Wdownᵀ                 [ffn_post = RMSNorm(ffn_out) · post_ffw_norm]
//   x       += ffn_out (or ffn_post)
//
// after x = embed(tokens) · embedding_scale, and then logits = RMSNorm(x) · output_norm · Woutᵀ
// [soft-capped: c·tanh(logits / c)]. F32 throughout; see docs/numerics.md, "Model forward".
//
// The steps below (namespace forward) are the units a backward pass mirrors; a session calls them
// in order. Shapes: C = d_model, Q = n_heads·head_dim, KV = n_kv_heads·head_dim, F = ffn_dim,
// P = pos0 + T (cache rows visible to the batch), V = vocab_size.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "model/prepared_model.h"

namespace shrink {

// Where an observer sees the residual stream.
enum class ResidualPoint { kBlockInput, kBlockOutput };

// Watches a forward pass (calibration: importance matrices, Hessians, residual similarity). All
// spans are row-major and valid only during the call. Methods are no-ops by default.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  // Before every linear product y = x · Wᵀ of `role` in `layer` (-1 for the output projection):
  // x: (T, C_in), C_in = W's columns. Q, K and V see the same x, each under its own role.
  virtual void OnLinearInput(int layer, TensorRole role, std::span<const float> x, int64_t T) {}
  // The residual stream x: (T, C) entering layer `layer` (kBlockInput) and leaving it
  // (kBlockOutput).
  virtual void OnResidual(int layer, ResidualPoint point, std::span<const float> x, int64_t T) {}
};

// One layer's intermediates for one batch, each in its own buffer (llm.c style), sized by
// Resize for T rows. A session reuses one set for every layer; a training pass keeps one per layer.
struct LayerActivations {
  std::vector<float> attn_in;    // (T, C)  RMSNorm(x) · attn_norm
  std::vector<float> q;          // (T, Q)  attn_in · Wqᵀ
  std::vector<float> k;          // (T, KV) attn_in · Wkᵀ
  std::vector<float> v;          // (T, KV) attn_in · Wvᵀ (copied into the cache)
  std::vector<float> q_rot;      // (T, Q)  q after Q-norm (if any) and RoPE; k's twin is the cache
  std::vector<float> att_probs;  // (n_heads, T, P) attention probabilities of every head
  std::vector<float> att;        // (T, Q)  probabilities · V, heads side by side
  std::vector<float> att_proj;   // (T, C)  att · Woᵀ
  std::vector<float> att_post;   // (T, C)  RMSNorm(att_proj) · post_attention_norm (post_norms)
  std::vector<float> ffn_in;     // (T, C)  RMSNorm(x) · ffn_norm
  std::vector<float> gate;       // (T, F)  ffn_in · Wgateᵀ
  std::vector<float> up;         // (T, F)  ffn_in · Wupᵀ
  std::vector<float> hidden;     // (T, F)  act(gate) · up
  std::vector<float> ffn_out;    // (T, C)  hidden · Wdownᵀ
  std::vector<float> ffn_post;   // (T, C)  RMSNorm(ffn_out) · post_ffw_norm (post_norms)
  std::vector<float> k_staged;   // (T, KV) keys after K-norm and RoPE before an F16 cache rounds
                                 // them (empty with an F32 cache, which takes them directly)

  // Sizes every buffer for a batch of T rows over P visible cache rows in layer `l` of `config`.
  void Resize(const Config& config, int l, int64_t T, int64_t P);
};

// One layer's KV cache: rows are positions. F32 (k, v) by default; an F16 cache (type kF16) keeps
// the same rows rounded to F16 (round to nearest even) in k16, v16 instead, half the memory, and
// attention converts them back exactly (docs/numerics.md, "F16 KV cache").
struct KvCache {
  TensorType type = TensorType::kF32;
  std::vector<float> k;            // (max_context, KV), after K-norm and RoPE (kF32)
  std::vector<float> v;            // (max_context, KV) (kF32)
  std::vector<uint16_t> k16, v16;  // (max_context, KV) F16 bits (kF16)

  // Sizes the cache for `rows` positions of kv_dim values as `type` (kF32 or kF16).
  void Allocate(TensorType type, int64_t rows, int64_t kv_dim);
};

namespace forward {

// x: (T, C) = rows `tokens` of token_embd, × embedding_scale.
void Embed(const PreparedModel& m, std::span<const TokenId> tokens, float* x);
// y: (T, rows) = x: (T, cols) · Wᵀ for `role` of layer `layer` (-1: output), observed first.
void Linear(const PreparedMatrix& w, int layer, TensorRole role, const float* x, int64_t T,
            float* y, ForwardObserver* observer);
// The same for a layer's linear, whole or a low-rank factor pair (observed as one linear: the
// observer sees x, the input of W = B·A).
void Linear(const PreparedLinear& w, int layer, TensorRole role, const float* x, int64_t T,
            float* y, ForwardObserver* observer);
// The same with an input shared by several linears (Q, K and V; gate and up): integer products
// quantize it once (kernels/matmul.h SharedInput). Same results as the overload above.
void Linear(const PreparedLinear& w, int layer, TensorRole role, const SharedInput& x, float* y,
            ForwardObserver* observer);
// The attention half of layer l: reads x: (T, C), fills acts from attn_in to att_proj/att_post
// and cache rows [pos0, pos0 + T), and returns the block's output to add to x.
const float* AttentionBlock(const PreparedModel& m, int l, const float* x, int64_t T, int64_t pos0,
                            KvCache& cache, LayerActivations& acts, ForwardObserver* observer);
// The feed-forward half of layer l: reads x: (T, C), fills acts from ffn_in to ffn_out/ffn_post,
// and returns the block's output to add to x.
const float* FeedForwardBlock(const PreparedModel& m, int l, const float* x, int64_t T,
                              LayerActivations& acts, ForwardObserver* observer);
// x: (T, C) += delta: (T, C).
void AddResidual(const float* delta, int64_t T, int64_t C, float* x);
// logits: (T, V) = soft-cap(RMSNorm(x: (T, C)) · output_norm · Woutᵀ); `normed`: (T, C) scratch
// that keeps the normed rows.
void Logits(const PreparedModel& m, const float* x, int64_t T, float* normed, float* logits,
            ForwardObserver* observer);

}  // namespace forward

// Bytes a session's buffers take (doubles: an estimate for any size, exact below 2^53).
struct SessionMemory {
  double kv_cache = 0;         // Σ_l 2 · max_context · KV_l elements of the cache type, plus
                               // (T, KV) F32 staged keys for an F16 cache
  double attention_probs = 0;  // max_l n_heads_l · T · P floats (LayerActivations::att_probs)
  double activations = 0;      // the other LayerActivations buffers for T rows, plus the residual
                               // stream x and the final-norm rows, (T, C) each
  double total() const { return kv_cache + attention_probs + activations; }
};

// Runs a prepared model over a growing sequence. Holds only the KV cache and activations; not
// thread-safe (one session per thread of generation), while any number of sessions may share one
// PreparedModel.
class InferenceSession {
 public:
  // REQUIRES: `model` outlives the session. `max_context` bounds the KV cache (tokens), whose
  // element type is kv_type: kF32 or kF16 (KvCache).
  InferenceSession(const PreparedModel& model, int32_t max_context,
                   TensorType kv_type = TensorType::kF32);

  // The memory a session of `max_context` tokens holds once it has evaluated batches of up to
  // `max_batch` tokens (each seeing up to max_context cache rows), so callers can compare it with
  // the machine's memory before creating one. Exact when every batch has max_batch = max_context
  // rows (perplexity's chunks); otherwise an upper bound, up to std::vector's growth when a buffer
  // is resized upward step by step (generation's one-token batches over a growing cache).
  static SessionMemory EstimateMemory(const Config& config, int64_t max_context, int64_t max_batch,
                                      TensorType kv_type = TensorType::kF32);

  // Appends `tokens` (T of them) at positions [position(), position() + T) and writes the logits of
  // batch rows [first_logit_row, T) to `logits`: (T - first_logit_row, vocab_size) row-major, F32
  // (perplexity scores only the second half of each chunk and skips the output projection for the
  // rest). Errors when the cache would overflow or a token id is out of range.
  Status Evaluate(std::span<const TokenId> tokens, std::span<float> logits,
                  int32_t first_logit_row = 0);
  int32_t position() const { return position_; }
  void Reset() { position_ = 0; }  // empties the KV cache

  // Called during every Evaluate from now on; nullptr removes it. Not owned.
  void SetObserver(ForwardObserver* observer) { observer_ = observer; }
  // The activations of the last layer of the last Evaluate (and the residual stream after it).
  const LayerActivations& activations() const { return acts_; }
  const std::vector<float>& residual() const { return x_; }

 private:
  const PreparedModel* model_;
  int32_t max_context_;
  int32_t position_ = 0;
  ForwardObserver* observer_ = nullptr;
  std::vector<KvCache> cache_;  // one per layer
  std::vector<float> x_;        // (T, C) the residual stream
  LayerActivations acts_;
  std::vector<float> final_norm_;  // (T_out, C)
};

}  // namespace shrink
