#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/half_convert.h"
#include "kernels/norm.h"
#include "kernels/rope.h"

namespace shrink {
namespace {

template <typename T>
size_t Count(T n) {
  return static_cast<size_t>(n);
}

// Q-norm (when the config has it) and RoPE of layer l on heads: (T, n_heads, head_dim), from `in`
// to `out` (which may alias).
void NormAndRotateHeads(const Config& c, int l, const float* norm, int64_t T, int64_t pos0,
                        int64_t n_heads, const float* in, float* out) {
  const LayerConfig& lc = c.layers[l];
  if (norm != nullptr) {
    RmsNorm(in, norm, T * n_heads, c.head_dim, c.rms_norm_eps, out);
  } else if (out != in) {
    std::memcpy(out, in, sizeof(float) * T * n_heads * c.head_dim);
  }
  Rope({.n_heads = n_heads,
        .head_dim = c.head_dim,
        .rope_dims = c.rope_dims,
        .base = lc.rope_theta,
        .position_scale = lc.rope_position_scale,
        .ordering = c.rope_ordering},
       T, pos0, out);
}

// RMSNorm of a block's output before the residual add (post_norms), else the output itself.
const float* PostNorm(const Config& c, const float* norm, const float* in, int64_t T,
                      std::vector<float>& out) {
  if (norm == nullptr) return in;
  RmsNorm(in, norm, T, c.d_model, c.rms_norm_eps, out.data());
  return out.data();
}

}  // namespace

void KvCache::Allocate(TensorType kv_type, int64_t rows, int64_t kv_dim) {
  SHRINK_CHECK(kv_type == TensorType::kF32 || kv_type == TensorType::kF16);
  type = kv_type;
  const size_t n = Count(rows * kv_dim);
  if (type == TensorType::kF16) {
    k16.resize(n);
    v16.resize(n);
  } else {
    k.resize(n);
    v.resize(n);
  }
}

void LayerActivations::Resize(const Config& c, int l, int64_t T, int64_t P) {
  const int64_t C = c.d_model, Q = c.q_dim(l), KV = c.kv_dim(l), F = c.layers[l].ffn_dim;
  const int64_t post = c.post_norms ? T * C : 0;
  attn_in.resize(Count(T * C));
  q.resize(Count(T * Q));
  k.resize(Count(T * KV));
  v.resize(Count(T * KV));
  q_rot.resize(Count(T * Q));
  att_probs.resize(Count(c.layers[l].n_heads * T * P));
  att.resize(Count(T * Q));
  att_proj.resize(Count(T * C));
  att_post.resize(Count(post));
  ffn_in.resize(Count(T * C));
  gate.resize(Count(T * F));
  up.resize(Count(T * F));
  hidden.resize(Count(T * F));
  ffn_out.resize(Count(T * C));
  ffn_post.resize(Count(post));
}

namespace forward {

void Embed(const PreparedModel& m, std::span<const TokenId> tokens, float* x) {
  const Config& c = m.config();
  const int64_t C = c.d_model;
  for (size_t t = 0; t < tokens.size(); ++t) {
    float* row = x + t * C;
    m.embedding().DecodeRow(tokens[t], row);
    if (c.embedding_scale != 1.0f) {
      for (int64_t i = 0; i < C; ++i) row[i] *= c.embedding_scale;
    }
  }
}

void Linear(const PreparedMatrix& w, int layer, TensorRole role, const float* x, int64_t T,
            float* y, ForwardObserver* observer) {
  if (observer != nullptr) {
    observer->OnLinearInput(layer, role, {x, Count(T * w.cols())}, T);
  }
  w.MatMul(x, T, y);
}

void Linear(const PreparedLinear& w, int layer, TensorRole role, const float* x, int64_t T,
            float* y, ForwardObserver* observer) {
  if (observer != nullptr) {
    observer->OnLinearInput(layer, role, {x, Count(T * w.cols())}, T);
  }
  w.MatMul(x, T, y);
}

void Linear(const PreparedLinear& w, int layer, TensorRole role, const SharedInput& x, float* y,
            ForwardObserver* observer) {
  if (observer != nullptr) {
    observer->OnLinearInput(layer, role, {x.x(), Count(x.T() * w.cols())}, x.T());
  }
  w.MatMul(x, y);
}

const float* AttentionBlock(const PreparedModel& m, int l, const float* x, int64_t T, int64_t pos0,
                            KvCache& cache, LayerActivations& a, ForwardObserver* observer) {
  const Config& c = m.config();
  const LayerConfig& lc = c.layers[l];
  const PreparedLayer& w = m.layer(l);
  const int64_t kv_dim = c.kv_dim(l);
  RmsNorm(x, w.vector(TensorRole::kAttnNorm), T, c.d_model, c.rms_norm_eps, a.attn_in.data());
  {
    const SharedInput attn_in(a.attn_in.data(), T, c.d_model);  // quantized once for Q, K and V
    Linear(w.matrix(TensorRole::kAttnQ), l, TensorRole::kAttnQ, attn_in, a.q.data(), observer);
    Linear(w.matrix(TensorRole::kAttnK), l, TensorRole::kAttnK, attn_in, a.k.data(), observer);
    Linear(w.matrix(TensorRole::kAttnV), l, TensorRole::kAttnV, attn_in, a.v.data(), observer);
  }
  // Keys (normed, rotated) and values go to this batch's cache rows (an F16 cache rounds them).
  NormAndRotateHeads(c, l, w.vector(TensorRole::kAttnQNorm), T, pos0, lc.n_heads, a.q.data(),
                     a.q_rot.data());
  const void* k_cache = cache.k.data();
  const void* v_cache = cache.v.data();
  if (cache.type == TensorType::kF16) {
    a.k_staged.resize(Count(T * kv_dim));
    NormAndRotateHeads(c, l, w.vector(TensorRole::kAttnKNorm), T, pos0, lc.n_kv_heads, a.k.data(),
                       a.k_staged.data());
    ConvertToF16(a.k_staged.data(), T * kv_dim, cache.k16.data() + pos0 * kv_dim);
    ConvertToF16(a.v.data(), T * kv_dim, cache.v16.data() + pos0 * kv_dim);
    k_cache = cache.k16.data();
    v_cache = cache.v16.data();
  } else {
    NormAndRotateHeads(c, l, w.vector(TensorRole::kAttnKNorm), T, pos0, lc.n_kv_heads, a.k.data(),
                       cache.k.data() + pos0 * kv_dim);
    std::memcpy(cache.v.data() + pos0 * kv_dim, a.v.data(), sizeof(float) * T * kv_dim);
  }
  Attention({.n_heads = lc.n_heads,
             .n_kv_heads = lc.n_kv_heads,
             .head_dim = c.head_dim,
             .scale = c.attention_scale_or_default(),
             .sliding_window = lc.sliding_window,
             .kv_type = cache.type},
            T, pos0, a.q_rot.data(), k_cache, v_cache, a.att.data(), a.att_probs.data());
  Linear(w.matrix(TensorRole::kAttnOutput), l, TensorRole::kAttnOutput, a.att.data(), T,
         a.att_proj.data(), observer);
  return PostNorm(c, w.vector(TensorRole::kAttnPostNorm), a.att_proj.data(), T, a.att_post);
}

const float* FeedForwardBlock(const PreparedModel& m, int l, const float* x, int64_t T,
                              LayerActivations& a, ForwardObserver* observer) {
  const Config& c = m.config();
  const PreparedLayer& w = m.layer(l);
  RmsNorm(x, w.vector(TensorRole::kFfnNorm), T, c.d_model, c.rms_norm_eps, a.ffn_in.data());
  {
    const SharedInput ffn_in(a.ffn_in.data(), T, c.d_model);  // quantized once for gate and up
    Linear(w.matrix(TensorRole::kFfnGate), l, TensorRole::kFfnGate, ffn_in, a.gate.data(),
           observer);
    Linear(w.matrix(TensorRole::kFfnUp), l, TensorRole::kFfnUp, ffn_in, a.up.data(), observer);
  }
  GatedActivation(c.activation, a.gate.data(), a.up.data(), T * c.layers[l].ffn_dim,
                  a.hidden.data());
  Linear(w.matrix(TensorRole::kFfnDown), l, TensorRole::kFfnDown, a.hidden.data(), T,
         a.ffn_out.data(), observer);
  return PostNorm(c, w.vector(TensorRole::kFfnPostNorm), a.ffn_out.data(), T, a.ffn_post);
}

void AddResidual(const float* delta, int64_t T, int64_t C, float* x) {
  for (int64_t i = 0; i < T * C; ++i) x[i] += delta[i];
}

void Logits(const PreparedModel& m, const float* x, int64_t T, float* normed, float* logits,
            ForwardObserver* observer) {
  const Config& c = m.config();
  RmsNorm(x, m.output_norm(), T, c.d_model, c.rms_norm_eps, normed);
  Linear(m.output(), -1, TensorRole::kOutput, normed, T, logits, observer);
  if (c.final_logit_softcap > 0.0f) {
    const float cap = c.final_logit_softcap;
    for (int64_t i = 0; i < T * c.vocab_size; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

}  // namespace forward

SessionMemory InferenceSession::EstimateMemory(const Config& c, int64_t max_context,
                                               int64_t max_batch, TensorType kv_type) {
  // Each LayerActivations buffer is resized per layer, so it ends up as large as the widest layer
  // needs: sizes use the maxima of Q, KV, F and heads over layers.
  const double f = sizeof(float), T = static_cast<double>(max_batch);
  const double P = static_cast<double>(max_context), C = c.d_model;
  double Q = 0, KV = 0, F = 0, heads = 0;
  SessionMemory m;
  for (int l = 0; l < c.n_layers; ++l) {
    Q = std::max<double>(Q, c.q_dim(l));
    KV = std::max<double>(KV, c.kv_dim(l));
    F = std::max<double>(F, c.layers[l].ffn_dim);
    heads = std::max<double>(heads, c.layers[l].n_heads);
    m.kv_cache += 2 * P * c.kv_dim(l) * (kv_type == TensorType::kF16 ? 2 : f);  // k and v
  }
  if (kv_type == TensorType::kF16) m.kv_cache += T * KV * f;  // LayerActivations::k_staged
  m.attention_probs = heads * T * P * f;
  // attn_in, att_proj, ffn_in, ffn_out (+ att_post, ffn_post): (T, C); q, q_rot, att: (T, Q);
  // k, v: (T, KV); gate, up, hidden: (T, F); then x_ and final_norm_: (T, C).
  const double per_row = (c.post_norms ? 6 : 4) * C + 3 * Q + 2 * KV + 3 * F + 2 * C;
  m.activations = T * per_row * f;
  return m;
}

InferenceSession::InferenceSession(const PreparedModel& model, int32_t max_context,
                                   TensorType kv_type)
    : model_(&model), max_context_(max_context) {
  SHRINK_CHECK(max_context > 0);
  const Config& c = model.config();
  cache_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) cache_[l].Allocate(kv_type, max_context, c.kv_dim(l));
}

Status InferenceSession::Evaluate(std::span<const TokenId> tokens, std::span<float> logits,
                                  int32_t first_logit_row) {
  const Config& c = model_->config();
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t C = c.d_model;
  const int64_t pos0 = position_;
  if (T == 0) return Status::Ok();
  if (pos0 + T > max_context_) {
    return Status::Errorf("evaluating {} tokens at position {} overflows the context of {} tokens",
                          T, pos0, max_context_);
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

  x_.resize(Count(T * C));
  forward::Embed(*model_, tokens, x_.data());
  for (int l = 0; l < c.n_layers; ++l) {
    if (observer_ != nullptr) observer_->OnResidual(l, ResidualPoint::kBlockInput, x_, T);
    acts_.Resize(c, l, T, pos0 + T);
    const float* attn_out =
        forward::AttentionBlock(*model_, l, x_.data(), T, pos0, cache_[l], acts_, observer_);
    forward::AddResidual(attn_out, T, C, x_.data());
    const float* ffn_out = forward::FeedForwardBlock(*model_, l, x_.data(), T, acts_, observer_);
    forward::AddResidual(ffn_out, T, C, x_.data());
    if (observer_ != nullptr) observer_->OnResidual(l, ResidualPoint::kBlockOutput, x_, T);
  }
  // Only the requested rows go through the final norm and the (large) output projection.
  final_norm_.resize(Count(out_rows * C));
  if (out_rows > 0) {
    forward::Logits(*model_, x_.data() + first_logit_row * C, out_rows, final_norm_.data(),
                    logits.data(), observer_);
  }
  position_ = static_cast<int32_t>(pos0 + T);
  return Status::Ok();
}

}  // namespace shrink
