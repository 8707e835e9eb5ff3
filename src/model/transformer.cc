// InferenceSession: the Llama forward pass over a KV cache.
//
// Per layer, for x: (T, C) at positions [pos, pos + T):
//   h = RMSNorm(x) * attn_norm;  q = h·Wqᵀ, k = h·Wkᵀ, v = h·Wvᵀ;
//                                RoPE(q, k);  append k, v to the cache
//   x += Attention(q, cache) · Woᵀ
//   h = RMSNorm(x) * ffn_norm;   x += (silu(h·Wgateᵀ) * h·Wupᵀ) · Wdownᵀ
// then logits = (RMSNorm(x) * output_norm) · Woutputᵀ (token_embd when tied). F32 throughout; see
// docs/numerics.md, "Model forward".
#include <cmath>

#include "base/check.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "model/model.h"

namespace shrink {
namespace {

MatrixRef AsMatrix(const TensorView& v) { return {v.type, v.rows(), v.cols(), v.data}; }

struct PreparedLayer {
  PreparedMatrix q, k, v, o, gate, up, down;
  const float* attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  std::vector<float> k_cache, v_cache;  // (max_context, kv_dim) each
};

}  // namespace

struct InferenceSession::State {
  const Model* model = nullptr;
  int32_t max_context = 0;
  int32_t position = 0;
  PreparedMatrix embedding;  // token_embd: rows looked up, and the output matrix when tied
  PreparedMatrix output;     // untied output matrix
  const float* output_norm = nullptr;
  std::vector<PreparedLayer> layers;
  // Activations for the current batch, resized per call.
  std::vector<float> x, h, q, k, v, att, gate, up, scratch;
};

InferenceSession::InferenceSession(const Model& model, int32_t max_context)
    : state_(std::make_unique<State>()) {
  SHRINK_CHECK(max_context > 0);
  State& s = *state_;
  const Config& c = model.config;
  const Weights& w = model.weights;
  s.model = &model;
  s.max_context = max_context;
  // Tied: token_embd is also the output matrix, worth an F32 copy; untied it only serves row
  // lookups.
  s.embedding = PreparedMatrix::Prepare(AsMatrix(w.token_embd), c.tied_embeddings
                                                                    ? MatrixStrategy::kDecodeToF32
                                                                    : MatrixStrategy::kDecodeRows);
  if (!c.tied_embeddings) s.output = PreparedMatrix::Prepare(AsMatrix(w.output));
  s.output_norm = w.output_norm.f32().data();
  s.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    PreparedLayer& pl = s.layers[l];
    pl.q = PreparedMatrix::Prepare(AsMatrix(lw.attn_q));
    pl.k = PreparedMatrix::Prepare(AsMatrix(lw.attn_k));
    pl.v = PreparedMatrix::Prepare(AsMatrix(lw.attn_v));
    pl.o = PreparedMatrix::Prepare(AsMatrix(lw.attn_output));
    pl.gate = PreparedMatrix::Prepare(AsMatrix(lw.ffn_gate));
    pl.up = PreparedMatrix::Prepare(AsMatrix(lw.ffn_up));
    pl.down = PreparedMatrix::Prepare(AsMatrix(lw.ffn_down));
    pl.attn_norm = lw.attn_norm.f32().data();
    pl.ffn_norm = lw.ffn_norm.f32().data();
    pl.k_cache.resize(static_cast<size_t>(max_context) * c.kv_dim(l));
    pl.v_cache.resize(static_cast<size_t>(max_context) * c.kv_dim(l));
  }
}

InferenceSession::~InferenceSession() = default;

int32_t InferenceSession::position() const { return state_->position; }
void InferenceSession::Reset() { state_->position = 0; }

Status InferenceSession::Evaluate(std::span<const TokenId> tokens, std::span<float> logits) {
  return Evaluate(tokens, logits, 0);
}

Status InferenceSession::Evaluate(std::span<const TokenId> tokens, std::span<float> logits,
                                  int32_t first_logit_row) {
  State& s = *state_;
  const Config& c = s.model->config;
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t C = c.d_model;
  const int64_t pos0 = s.position;
  if (T == 0) return Status::Ok();
  if (pos0 + T > s.max_context) {
    return Status::Errorf("evaluating {} tokens at position {} overflows the context of {} tokens",
                          T, pos0, s.max_context);
  }
  if (first_logit_row < 0 || first_logit_row > T) {
    return Status::Errorf("first logit row {} is outside the batch of {} tokens", first_logit_row,
                          T);
  }
  const int64_t out_rows = T - first_logit_row;
  if (static_cast<int64_t>(logits.size()) != out_rows * c.vocab_size) {
    return Status::Errorf("logits buffer holds {} floats, expected {} rows × vocab {}",
                          logits.size(), out_rows, c.vocab_size);
  }
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size) {
      return Status::Errorf("token {} at batch index {} is outside the vocabulary [0, {})",
                            tokens[t], t, c.vocab_size);
    }
  }

  s.x.resize(T * C);
  s.h.resize(T * C);
  for (int64_t t = 0; t < T; ++t) s.embedding.DecodeRow(tokens[t], s.x.data() + t * C);

  for (int l = 0; l < c.n_layers; ++l) {
    PreparedLayer& L = s.layers[l];
    const LayerConfig& lc = c.layers[l];
    const int64_t q_dim = c.q_dim(l), kv_dim = c.kv_dim(l), ffn = lc.ffn_dim;
    s.q.resize(T * q_dim);
    s.att.resize(T * q_dim);
    s.gate.resize(T * ffn);
    s.up.resize(T * ffn);

    // Attention block. K and V are written straight into the cache rows of this batch.
    RmsNorm(s.x.data(), L.attn_norm, T, C, c.rms_norm_eps, s.h.data());
    float* k_new = L.k_cache.data() + pos0 * kv_dim;
    float* v_new = L.v_cache.data() + pos0 * kv_dim;
    L.q.MatMul(s.h.data(), T, s.q.data());
    L.k.MatMul(s.h.data(), T, k_new);
    L.v.MatMul(s.h.data(), T, v_new);
    Rope({.n_heads = lc.n_heads,
          .head_dim = c.head_dim,
          .rope_dims = c.rope_dims,
          .base = c.rope_theta,
          .ordering = c.rope_ordering},
         T, pos0, s.q.data());
    Rope({.n_heads = lc.n_kv_heads,
          .head_dim = c.head_dim,
          .rope_dims = c.rope_dims,
          .base = c.rope_theta,
          .ordering = c.rope_ordering},
         T, pos0, k_new);
    Attention({.n_heads = lc.n_heads,
               .n_kv_heads = lc.n_kv_heads,
               .head_dim = c.head_dim,
               .scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim))},
              T, pos0, s.q.data(), L.k_cache.data(), L.v_cache.data(), s.att.data(), s.scratch);
    L.o.MatMul(s.att.data(), T, s.h.data());
    for (int64_t i = 0; i < T * C; ++i) s.x[i] += s.h[i];

    // Feed-forward block.
    RmsNorm(s.x.data(), L.ffn_norm, T, C, c.rms_norm_eps, s.h.data());
    L.gate.MatMul(s.h.data(), T, s.gate.data());
    L.up.MatMul(s.h.data(), T, s.up.data());
    SwiGlu(s.gate.data(), s.up.data(), T * ffn, s.gate.data());
    L.down.MatMul(s.gate.data(), T, s.h.data());
    for (int64_t i = 0; i < T * C; ++i) s.x[i] += s.h[i];
  }

  // Only the requested rows go through the final norm and the (large) output projection.
  const float* x_out = s.x.data() + first_logit_row * C;
  RmsNorm(x_out, s.output_norm, out_rows, C, c.rms_norm_eps, s.h.data());
  const PreparedMatrix& out = c.tied_embeddings ? s.embedding : s.output;
  if (out_rows > 0) out.MatMul(s.h.data(), out_rows, logits.data());
  s.position = static_cast<int32_t>(pos0 + T);
  return Status::Ok();
}

}  // namespace shrink
