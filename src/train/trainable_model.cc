#include "train/trainable_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "formats/types.h"
#include "model/weights.h"
#include "train/ops.h"

namespace shrink::train {
namespace {

size_t Count(int64_t n) { return static_cast<size_t>(n); }

// Hands out consecutive ranges of a float buffer; with a null base only counts.
class Carver {
 public:
  explicit Carver(float* base) : base_(base) {}
  float* Take(int64_t n) {
    float* p = base_ != nullptr ? base_ + used_ : nullptr;
    used_ += n;
    return p;
  }
  int64_t used() const { return used_; }

 private:
  float* base_;
  int64_t used_ = 0;
};

RopeParams LayerRope(const Config& c, int l, int64_t n_heads) {
  return {.n_heads = n_heads,
          .head_dim = c.head_dim,
          .rope_dims = c.rope_dims,
          .base = c.layers[l].rope_theta,
          .position_scale = c.layers[l].rope_position_scale,
          .ordering = c.rope_ordering};
}

}  // namespace

TrainableModel::TrainableModel(const Config& config) : config_(config) {
  SHRINK_CHECK(config_.Validate().ok());
  offsets_.assign(Count(config_.n_layers + 1), {});
  for (auto& row : offsets_) row.fill(-1);
  Weights skeleton = Weights::Skeleton(config_);
  int64_t total = 0;
  skeleton.ForEachTensor([&](const TensorView& t) {
    ParamTensor p{.name = t.name, .role = t.role, .layer = t.layer, .shape = t.shape};
    p.offset = total;
    p.count = t.element_count();
    total += p.count;
    offsets_[Count(t.layer + 1)][static_cast<size_t>(t.role)] = p.offset;
    tensors_.push_back(std::move(p));
  });
  params_.assign(Count(total), 0.0f);
  grads_.assign(Count(total), 0.0f);
}

Result<TrainableModel> TrainableModel::FromModel(const Model& model) {
  TrainableModel m(model.config);
  Status status = Status::Ok();
  const Weights& w = model.weights;
  Weights skeleton = Weights::Skeleton(model.config);
  Weights::ForEachTensorTogether(
      [&](const TensorView& want, const TensorView& have) {
        if (!status.ok()) return;
        if (!have.present() || have.shape != want.shape) {
          status =
              Status::Errorf("tensor {}: missing or shaped differently from the config", want.name);
          return;
        }
        const TypeTraits& traits = Traits(have.type);
        Result<int64_t> row_bytes = RowBytes(have.type, have.cols());
        if (!row_bytes.ok()) {
          status = row_bytes.status().WithContext(want.name);
          return;
        }
        float* out = m.Param(m.params_, want.role, want.layer);
        for (int64_t r = 0; r < have.rows(); ++r) {
          traits.decode(have.data.data() + r * *row_bytes, out + r * have.cols(), have.cols());
        }
      },
      skeleton, w);
  if (!status.ok()) return status;
  return m;
}

float* TrainableModel::Param(std::span<float> base, TensorRole role, int layer) const {
  const int64_t off = offsets_[Count(layer + 1)][static_cast<size_t>(role)];
  return off < 0 ? nullptr : base.data() + off;
}

const float* TrainableModel::P(TensorRole role, int layer) const {
  const int64_t off = offsets_[Count(layer + 1)][static_cast<size_t>(role)];
  if (off < 0) return nullptr;
  const bool fake = !fake_.empty() && fake_[Count(layer + 1)][static_cast<size_t>(role)];
  return (fake ? fake_params_.data() : params_.data()) + off;
}

Status TrainableModel::SetFakeQuant(FakeQuantSpec spec) {
  if (spec.empty()) {
    fake_quant_.clear();
    fake_params_ = {};
    fake_blocks_.clear();
    fake_.clear();
    return Status::Ok();
  }
  if (spec.size() != tensors_.size()) {
    return Status::Errorf("fake quantization: {} tensor types for a model of {} tensors",
                          spec.size(), tensors_.size());
  }
  std::vector<std::array<bool, kRoleCount>> fake(offsets_.size());
  for (auto& row : fake) row.fill(false);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const ParamTensor& t = tensors_[i];
    SHRINK_RETURN_IF_ERROR(CheckFakeQuantTensor(spec[i], t.name, t.shape[0], t.matrix()));
    fake[Count(t.layer + 1)][static_cast<size_t>(t.role)] = spec[i].type != TensorType::kF32;
    if (spec[i].rounding == FakeQuantRounding::kExactFrozenSteps) {
      const float* w = params_.data() + t.offset;
      for (int64_t k = 0; k < t.count; ++k) {
        if (!std::isfinite(w[k])) {
          return Status::Errorf("{}: element {} is {}; exact steps need finite weights", t.name, k,
                                w[k]);
        }
      }
    }
  }
  // The exact steps, searched once on the masters as they are now (fake_quant.h).
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<uint8_t>> blocks(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (spec[i].rounding != FakeQuantRounding::kExactFrozenSteps) continue;
    const ParamTensor& t = tensors_[i];
    const TypeTraits& traits = Traits(spec[i].type);
    const int64_t cols = t.shape[0], rows = t.count / cols;
    blocks[i].resize(
        static_cast<size_t>(rows * (cols / traits.block_elements) * traits.block_bytes));
    EncodeExactScaleRows(traits, params_.data() + t.offset, blocks[i].data(), rows, cols,
                         spec[i].importance);
  }
  fake_quant_ = std::move(spec);
  fake_ = std::move(fake);
  fake_blocks_ = std::move(blocks);
  fake_params_.assign(params_.size(), 0.0f);
  fake_quant_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fake_quant_refreshes_ = 0;
  fake_quant_stale_ = true;
  RefreshFakeQuant();
  return Status::Ok();
}

void TrainableModel::RefreshFakeQuant() {
  if (fake_quant_.empty() || !fake_quant_stale_) return;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const FakeQuantTensor& f = fake_quant_[i];
    if (f.type == TensorType::kF32) continue;
    const ParamTensor& t = tensors_[i];
    const int64_t cols = t.shape[0];
    if (f.rounding == FakeQuantRounding::kExactFrozenSteps) {
      RoundRowsOntoGrid(Traits(f.type), params_.data() + t.offset, fake_blocks_[i].data(),
                        fake_params_.data() + t.offset, t.count / cols, cols);
    } else {
      FakeQuantizeRows(Traits(f.type), params_.data() + t.offset, fake_params_.data() + t.offset,
                       t.count / cols, cols, f.importance);
    }
  }
  fake_quant_stale_ = false;
  fake_quant_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++fake_quant_refreshes_;
}

std::span<const uint8_t> TrainableModel::FakeQuantBlocks(size_t tensor) {
  RefreshFakeQuant();
  if (fake_blocks_.empty()) return {};
  return fake_blocks_[tensor];
}

std::span<const float> TrainableModel::ForwardWeights(size_t tensor) {
  RefreshFakeQuant();
  const ParamTensor& t = tensors_[tensor];
  return {P(t.role, t.layer), Count(t.count)};
}

std::pair<int64_t, int64_t> TrainableModel::Layout(int64_t B, int64_t T, bool grow) {
  const Config& c = config_;
  const int64_t N = B * T, C = c.d_model, V = c.vocab_size;
  for (int pass = grow ? 0 : 1; pass < 2; ++pass) {
    Carver a(pass == 0 ? nullptr : acts_.data());
    Carver s(pass == 0 ? nullptr : scratch_.data());
    layer_acts_.resize(Count(c.n_layers));
    int64_t max_q = 0, max_kv = 0, max_f = 0;
    for (int l = 0; l < c.n_layers; ++l) {
      const LayerConfig& lc = c.layers[l];
      const int64_t Q = c.q_dim(l), KV = c.kv_dim(l), F = lc.ffn_dim;
      max_q = std::max(max_q, Q);
      max_kv = std::max(max_kv, KV);
      max_f = std::max(max_f, F);
      const bool qk = c.qk_norm, post = c.post_norms;
      LayerActs& la = layer_acts_[Count(l)];
      la.x_in = a.Take(N * C);
      la.attn_in = a.Take(N * C);
      la.attn_rstd = a.Take(N);
      la.q = a.Take(N * Q);
      la.k = a.Take(N * KV);
      la.v = a.Take(N * KV);
      la.qn = qk ? a.Take(N * Q) : nullptr;
      la.qn_rstd = qk ? a.Take(N * lc.n_heads) : nullptr;
      la.kn = qk ? a.Take(N * KV) : nullptr;
      la.kn_rstd = qk ? a.Take(N * lc.n_kv_heads) : nullptr;
      la.q_rot = a.Take(N * Q);
      la.k_rot = a.Take(N * KV);
      la.probs = a.Take(B * lc.n_heads * T * T);
      la.att = a.Take(N * Q);
      la.att_proj = a.Take(N * C);
      la.att_post = post ? a.Take(N * C) : nullptr;
      la.att_post_rstd = post ? a.Take(N) : nullptr;
      la.x_mid = a.Take(N * C);
      la.ffn_in = a.Take(N * C);
      la.ffn_rstd = a.Take(N);
      la.gate = a.Take(N * F);
      la.up = a.Take(N * F);
      la.hidden = a.Take(N * F);
      la.ffn_out = a.Take(N * C);
      la.ffn_post = post ? a.Take(N * C) : nullptr;
      la.ffn_post_rstd = post ? a.Take(N) : nullptr;
    }
    x_final_ = a.Take(N * C);
    final_in_ = a.Take(N * C);
    final_rstd_ = a.Take(N);
    logits_raw_ = c.final_logit_softcap > 0.0f ? a.Take(N * V) : nullptr;
    logits_ = a.Take(N * V);
    Scratch& d = scratch_ptrs_;
    d.dres = s.Take(N * C);
    d.d_in = s.Take(N * C);
    d.dq = s.Take(N * max_q);
    d.dk = s.Take(N * max_kv);
    d.dv = s.Take(N * max_kv);
    d.dqn = s.Take(N * max_q);
    d.dkn = s.Take(N * max_kv);
    d.dq_rot = s.Take(N * max_q);
    d.dk_rot = s.Take(N * max_kv);
    d.datt = s.Take(N * max_q);
    d.dproj = s.Take(N * C);
    d.dgate = s.Take(N * max_f);
    d.dup = s.Take(N * max_f);
    d.dhidden = s.Take(N * max_f);
    d.dout = s.Take(N * C);
    if (pass == 0) {
      acts_.assign(Count(a.used()), 0.0f);
      scratch_.assign(Count(s.used()), 0.0f);
    } else {
      SHRINK_CHECK(a.used() <= static_cast<int64_t>(acts_.size()));
      SHRINK_CHECK(s.used() <= static_cast<int64_t>(scratch_.size()));
      return {a.used(), s.used()};
    }
  }
  return {};
}

void TrainableModel::Reserve(int64_t B, int64_t T) {
  SHRINK_CHECK(B > 0 && T > 0);
  Layout(B, T, /*grow=*/true);
}

int64_t TrainableModel::activation_bytes() const {
  return static_cast<int64_t>((acts_.size() + scratch_.size()) * sizeof(float));
}

std::span<float> TrainableModel::logits() { return {logits_, Count(B_ * T_ * config_.vocab_size)}; }

Status TrainableModel::CheckTokens(std::span<const int32_t> ids) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size) {
      return Status::Errorf("token {} at index {} is outside the vocabulary [0, {})", ids[i], i,
                            config_.vocab_size);
    }
  }
  return Status::Ok();
}

void TrainableModel::ZeroGrad() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

void TrainableModel::LayerForward(int l, const float* x_in, float* x_out) {
  const Config& c = config_;
  const LayerConfig& lc = c.layers[l];
  const int64_t N = B_ * T_, C = c.d_model, Q = c.q_dim(l), KV = c.kv_dim(l), F = lc.ffn_dim;
  const float eps = c.rms_norm_eps;
  LayerActs& a = layer_acts_[Count(l)];
  if (a.x_in != x_in) std::memcpy(a.x_in, x_in, sizeof(float) * Count(N * C));
  // Attention block.
  RmsNormForward(a.attn_in, a.attn_rstd, a.x_in, P(TensorRole::kAttnNorm, l), N, C, eps);
  LinearForward(a.q, a.attn_in, P(TensorRole::kAttnQ, l), N, C, Q);
  LinearForward(a.k, a.attn_in, P(TensorRole::kAttnK, l), N, C, KV);
  LinearForward(a.v, a.attn_in, P(TensorRole::kAttnV, l), N, C, KV);
  const float* q = a.q;
  const float* k = a.k;
  if (c.qk_norm) {
    RmsNormForward(a.qn, a.qn_rstd, a.q, P(TensorRole::kAttnQNorm, l), N * lc.n_heads, c.head_dim,
                   eps);
    RmsNormForward(a.kn, a.kn_rstd, a.k, P(TensorRole::kAttnKNorm, l), N * lc.n_kv_heads,
                   c.head_dim, eps);
    q = a.qn;
    k = a.kn;
  }
  RopeForward(a.q_rot, q, positions_.data(), N, LayerRope(c, l, lc.n_heads));
  RopeForward(a.k_rot, k, positions_.data(), N, LayerRope(c, l, lc.n_kv_heads));
  const AttentionShape shape{.B = B_,
                             .T = T_,
                             .n_heads = lc.n_heads,
                             .n_kv_heads = lc.n_kv_heads,
                             .head_dim = c.head_dim,
                             .scale = c.attention_scale_or_default(),
                             .sliding_window = lc.sliding_window};
  AttentionForward(a.att, a.probs, a.q_rot, a.k_rot, a.v, shape);
  LinearForward(a.att_proj, a.att, P(TensorRole::kAttnOutput, l), N, Q, C);
  const float* branch = a.att_proj;
  if (c.post_norms) {
    RmsNormForward(a.att_post, a.att_post_rstd, a.att_proj, P(TensorRole::kAttnPostNorm, l), N, C,
                   eps);
    branch = a.att_post;
  }
  for (int64_t i = 0; i < N * C; ++i) a.x_mid[i] = a.x_in[i] + branch[i];
  // Feed-forward block.
  RmsNormForward(a.ffn_in, a.ffn_rstd, a.x_mid, P(TensorRole::kFfnNorm, l), N, C, eps);
  LinearForward(a.gate, a.ffn_in, P(TensorRole::kFfnGate, l), N, C, F);
  LinearForward(a.up, a.ffn_in, P(TensorRole::kFfnUp, l), N, C, F);
  GluForward(a.hidden, a.gate, a.up, N * F, c.activation);
  LinearForward(a.ffn_out, a.hidden, P(TensorRole::kFfnDown, l), N, F, C);
  branch = a.ffn_out;
  if (c.post_norms) {
    RmsNormForward(a.ffn_post, a.ffn_post_rstd, a.ffn_out, P(TensorRole::kFfnPostNorm, l), N, C,
                   eps);
    branch = a.ffn_post;
  }
  for (int64_t i = 0; i < N * C; ++i) x_out[i] = a.x_mid[i] + branch[i];
}

void TrainableModel::Forward(const int32_t* inputs, int64_t B, int64_t T) {
  const Config& c = config_;
  B_ = B;
  T_ = T;
  RefreshFakeQuant();
  Layout(B, T, /*grow=*/false);
  const int64_t N = B * T, C = c.d_model, V = c.vocab_size;
  tokens_.assign(inputs, inputs + N);
  positions_.resize(Count(N));
  for (int64_t n = 0; n < N; ++n) positions_[Count(n)] = static_cast<int32_t>(n % T);
  EmbeddingForward(layer_acts_[0].x_in, inputs, P(TensorRole::kTokenEmbd, -1), N, C,
                   c.embedding_scale);
  for (int l = 0; l < c.n_layers; ++l) {
    float* out = l + 1 < c.n_layers ? layer_acts_[Count(l + 1)].x_in : x_final_;
    LayerForward(l, layer_acts_[Count(l)].x_in, out);
  }
  RmsNormForward(final_in_, final_rstd_, x_final_, P(TensorRole::kOutputNorm, -1), N, C,
                 c.rms_norm_eps);
  const float* out_w = P(TensorRole::kOutput, -1);
  if (out_w == nullptr) out_w = P(TensorRole::kTokenEmbd, -1);  // tied embeddings
  if (c.final_logit_softcap > 0.0f) {
    LinearForward(logits_raw_, final_in_, out_w, N, C, V);
    SoftcapForward(logits_, logits_raw_, N * V, c.final_logit_softcap);
  } else {
    LinearForward(logits_, final_in_, out_w, N, C, V);
  }
}

double TrainableModel::CrossEntropy(const int32_t* targets, float grad_scale) {
  std::vector<float> losses(Count(B_ * T_));
  return CrossEntropyForwardBackward(logits_, losses.data(), targets, B_ * T_, config_.vocab_size,
                                     grad_scale);
}

void TrainableModel::LayerBackward(int l, float* dres) {
  const Config& c = config_;
  const LayerConfig& lc = c.layers[l];
  const int64_t N = B_ * T_, C = c.d_model, Q = c.q_dim(l), KV = c.kv_dim(l), F = lc.ffn_dim;
  const LayerActs& a = layer_acts_[Count(l)];
  const Scratch& d = scratch_ptrs_;
  // Every scratch gradient except dres starts from zero (the ops accumulate).
  std::fill(scratch_.begin() + (d.d_in - scratch_.data()), scratch_.end(), 0.0f);

  // Feed-forward block, x_out = x_mid + post(ffn_out); dres holds dL/dx_out.
  const float* dbranch = dres;
  if (c.post_norms) {
    RmsNormBackward(d.dout, G(TensorRole::kFfnPostNorm, l), dres, a.ffn_out,
                    P(TensorRole::kFfnPostNorm, l), a.ffn_post_rstd, N, C);
    dbranch = d.dout;
  }
  LinearBackward(d.dhidden, G(TensorRole::kFfnDown, l), dbranch, a.hidden,
                 P(TensorRole::kFfnDown, l), N, F, C);
  GluBackward(d.dgate, d.dup, d.dhidden, a.gate, a.up, N * F, c.activation);
  LinearBackward(d.d_in, G(TensorRole::kFfnGate, l), d.dgate, a.ffn_in, P(TensorRole::kFfnGate, l),
                 N, C, F);
  LinearBackward(d.d_in, G(TensorRole::kFfnUp, l), d.dup, a.ffn_in, P(TensorRole::kFfnUp, l), N, C,
                 F);
  // dres += the norm's input gradient: now dL/dx_mid (the residual path adds itself).
  RmsNormBackward(dres, G(TensorRole::kFfnNorm, l), d.d_in, a.x_mid, P(TensorRole::kFfnNorm, l),
                  a.ffn_rstd, N, C);

  // Attention block, x_mid = x_in + post(att_proj).
  std::fill(d.d_in, d.d_in + N * C, 0.0f);
  dbranch = dres;
  if (c.post_norms) {
    std::fill(d.dout, d.dout + N * C, 0.0f);
    RmsNormBackward(d.dout, G(TensorRole::kAttnPostNorm, l), dres, a.att_proj,
                    P(TensorRole::kAttnPostNorm, l), a.att_post_rstd, N, C);
    dbranch = d.dout;
  }
  LinearBackward(d.datt, G(TensorRole::kAttnOutput, l), dbranch, a.att,
                 P(TensorRole::kAttnOutput, l), N, Q, C);
  const AttentionShape shape{.B = B_,
                             .T = T_,
                             .n_heads = lc.n_heads,
                             .n_kv_heads = lc.n_kv_heads,
                             .head_dim = c.head_dim,
                             .scale = c.attention_scale_or_default(),
                             .sliding_window = lc.sliding_window};
  AttentionBackward(d.dq_rot, d.dk_rot, d.dv, d.datt, a.probs, a.q_rot, a.k_rot, a.v, shape);
  if (c.qk_norm) {
    RopeBackward(d.dqn, d.dq_rot, positions_.data(), N, LayerRope(c, l, lc.n_heads));
    RopeBackward(d.dkn, d.dk_rot, positions_.data(), N, LayerRope(c, l, lc.n_kv_heads));
    RmsNormBackward(d.dq, G(TensorRole::kAttnQNorm, l), d.dqn, a.q, P(TensorRole::kAttnQNorm, l),
                    a.qn_rstd, N * lc.n_heads, c.head_dim);
    RmsNormBackward(d.dk, G(TensorRole::kAttnKNorm, l), d.dkn, a.k, P(TensorRole::kAttnKNorm, l),
                    a.kn_rstd, N * lc.n_kv_heads, c.head_dim);
  } else {
    RopeBackward(d.dq, d.dq_rot, positions_.data(), N, LayerRope(c, l, lc.n_heads));
    RopeBackward(d.dk, d.dk_rot, positions_.data(), N, LayerRope(c, l, lc.n_kv_heads));
  }
  LinearBackward(d.d_in, G(TensorRole::kAttnQ, l), d.dq, a.attn_in, P(TensorRole::kAttnQ, l), N, C,
                 Q);
  LinearBackward(d.d_in, G(TensorRole::kAttnK, l), d.dk, a.attn_in, P(TensorRole::kAttnK, l), N, C,
                 KV);
  LinearBackward(d.d_in, G(TensorRole::kAttnV, l), d.dv, a.attn_in, P(TensorRole::kAttnV, l), N, C,
                 KV);
  RmsNormBackward(dres, G(TensorRole::kAttnNorm, l), d.d_in, a.x_in, P(TensorRole::kAttnNorm, l),
                  a.attn_rstd, N, C);
}

void TrainableModel::Backward() {
  const Config& c = config_;
  const int64_t N = B_ * T_, C = c.d_model, V = c.vocab_size;
  const Scratch& d = scratch_ptrs_;
  std::fill(scratch_.begin(), scratch_.end(), 0.0f);
  const float* dlogits = logits_;
  if (c.final_logit_softcap > 0.0f) {
    // In place: logits_ becomes the gradient of the pre-cap logits.
    SoftcapBackward(logits_, logits_, logits_raw_, N * V, c.final_logit_softcap);
  }
  const float* out_w = P(TensorRole::kOutput, -1);
  float* out_g = G(TensorRole::kOutput, -1);
  if (out_w == nullptr) {
    out_w = P(TensorRole::kTokenEmbd, -1);
    out_g = G(TensorRole::kTokenEmbd, -1);
  }
  // d.dout doubles as the gradient of the final norm's output here.
  LinearBackward(d.dout, out_g, dlogits, final_in_, out_w, N, C, V);
  RmsNormBackward(d.dres, G(TensorRole::kOutputNorm, -1), d.dout, x_final_,
                  P(TensorRole::kOutputNorm, -1), final_rstd_, N, C);
  for (int l = c.n_layers - 1; l >= 0; --l) LayerBackward(l, d.dres);
  EmbeddingBackward(G(TensorRole::kTokenEmbd, -1), d.dres, tokens_.data(), N, C, c.embedding_scale);
}

}  // namespace shrink::train
