// TrainableModel: a transformer's F32 master weights, their gradients and the activations of one
// batch, each in ONE allocation, with a forward pass that saves what the backward pass needs.
//
//   TrainableModel m(config);                     // or TrainableModel::FromModel(*loaded)
//   m.Reserve(B, T);                              // activations for batches of B × T tokens
//   m.ZeroGrad();
//   m.Forward(inputs, B, T);                      // logits(): (B·T, V)
//   double loss = m.CrossEntropy(targets, 1.0f / (B * T));   // logits() now holds dL/dlogits
//   m.Backward();                                 // grads() += dL/dparams
//
// The loss step is separate from Forward so that other losses (KL against a teacher's logits,
// train/ops.h KlDivergenceForwardBackward) can write dL/dlogits in its place; Backward starts from
// whatever logits() holds. Gradients accumulate over Backward calls until ZeroGrad (gradient
// accumulation). Every weight read of Forward and Backward goes through one accessor (P(role,
// layer)), where quantization-aware training substitutes fake-quantized copies (SetFakeQuant,
// train/fake_quant.h; straight-through: dx from the copies, dW into the master gradients).
//
// Fake quantization (QAT):
//   m.SetFakeQuant(spec);        // spec[i] for tensors()[i]: a GGUF type (and importance) or F32
//   ... steps as above; the optimizer writes the masters through params() ...
// Forward reads each fake-quantized tensor as decode(encode(master)). The copies are re-encoded
// lazily: any non-const params() call marks them stale and the next Forward (or ForwardWeights)
// re-encodes them, so an optimizer step costs one re-encoding however many micro-batches it has,
// and the copies a Backward uses are those of the Forward before it. A tensor with exact frozen
// steps (FakeQuantRounding::kExactFrozenSteps) keeps its encoded blocks (FakeQuantBlocks): their
// steps are searched when SetFakeQuant is called, on the masters of that moment, and each refresh
// re-rounds the codes only.
//
// Layout: tensors are laid out in tensor-table order (model/tensor_table.h, Weights::Skeleton), so
// per-layer widths of a pruned config and the extra norms of Gemma-3 need no special case; every
// matrix W: (rows, cols) is row-major, as GGUF stores it.
//
// Thread safety: none; one thread calls a model's methods. Parallelism is inside the ops (OpenBLAS
// threads for the products, the kernel thread pool for attention and losses).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/model.h"
#include "model/tensor_table.h"
#include "train/fake_quant.h"

namespace shrink::train {

// One parameter tensor inside params()/grads().
struct ParamTensor {
  std::string name;  // GGUF name
  TensorRole role;
  int layer = -1;
  std::vector<int64_t> shape;  // ggml order (shape[0] contiguous), as in TensorView
  int64_t offset = 0;          // first float in params()
  int64_t count = 0;           // floats
  // Weight decay applies to matrices only, never to norms (1-D tensors).
  bool matrix() const { return shape.size() >= 2; }
};

inline constexpr int kRoleCount = static_cast<int>(TensorRole::kOutput) + 1;

class TrainableModel {
 public:
  // Parameters all zero. REQUIRES: config.Validate() is OK.
  explicit TrainableModel(const Config& config);
  // The model's weights decoded to F32 (formats table decode: exact for every type).
  // Errors: a tensor the model lacks or whose type has no decoder.
  static Result<TrainableModel> FromModel(const Model& model);

  const Config& config() const { return config_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  // Non-const access marks the fake-quantized copies stale (see above).
  std::span<float> params() {
    fake_quant_stale_ = true;
    return params_;
  }
  std::span<const float> params() const { return params_; }
  std::span<float> grads() { return grads_; }
  // The parameter `role` of layer `layer` (-1 for model tensors) inside `base` (params() or
  // grads()); nullptr when the config has no such tensor.
  float* Param(std::span<float> base, TensorRole role, int layer) const;

  // Fake quantization from now on (see above); an empty spec turns it off. Errors (the model is
  // unchanged): spec.size() != tensors().size(), an entry CheckFakeQuantTensor rejects, or (exact
  // frozen steps) a master that is not finite.
  Status SetFakeQuant(FakeQuantSpec spec);
  const FakeQuantSpec& fake_quant() const { return fake_quant_; }
  // Re-encodes the fake-quantized copies from the masters now if they are stale.
  void RefreshFakeQuant();
  // Wall seconds spent so far in SetFakeQuant's encoding (exact steps' search included) and in
  // refreshes, and the number of refreshes: what fake quantization costs a run.
  double fake_quant_seconds() const { return fake_quant_seconds_; }
  int64_t fake_quant_refreshes() const { return fake_quant_refreshes_; }
  // The encoded blocks a tensor with exact frozen steps is read through (its rows in its type,
  // after RefreshFakeQuant: the decode of these bytes is ForwardWeights(tensor)); empty for
  // every other tensor.
  std::span<const uint8_t> FakeQuantBlocks(size_t tensor);
  // The floats Forward reads for tensors()[tensor] (count of them): the fake-quantized copy, after
  // RefreshFakeQuant, or the master when the tensor is not fake-quantized.
  std::span<const float> ForwardWeights(size_t tensor);

  // Allocates activations for batches of up to B × T tokens. Bytes reserved: activation_bytes().
  void Reserve(int64_t B, int64_t T);
  int64_t activation_bytes() const;

  // inputs: (B, T) token ids in [0, V); sequence b's row t is at position t.
  // REQUIRES: Reserve(B', T) with B' >= B; ids checked by the caller (CheckTokens).
  void Forward(const int32_t* inputs, int64_t B, int64_t T);
  // The logits of the last Forward: (B·T, V). After a loss op, dL/dlogits.
  std::span<float> logits();
  // Mean-free cross-entropy: returns Σ_n -log softmax(z_n)[targets[n]] over the B·T rows and
  // leaves grad_scale · dΣ/dz in logits(). targets: (B, T).
  double CrossEntropy(const int32_t* targets, float grad_scale);
  void ZeroGrad();
  // grads() += dL/dparams, from dL/dlogits in logits().
  void Backward();

  // Error naming the first id outside [0, V) and its index.
  Status CheckTokens(std::span<const int32_t> ids) const;

 private:
  // Saved activations of one layer (pointers into acts_); nullptr where the config has none.
  struct LayerActs {
    float *x_in, *attn_in, *attn_rstd, *q, *k, *v, *qn, *qn_rstd, *kn, *kn_rstd, *q_rot, *k_rot;
    float *probs, *att, *att_proj, *att_post, *att_post_rstd, *x_mid, *ffn_in, *ffn_rstd;
    float *gate, *up, *hidden, *ffn_out, *ffn_post, *ffn_post_rstd;
  };
  // The backward pass's gradients of one layer's activations (pointers into scratch_, reused by
  // every layer), and of the final norm.
  struct Scratch {
    float *dres, *d_in, *dq, *dk, *dv, *dqn, *dkn, *dq_rot, *dk_rot, *datt, *dproj, *dgate, *dup;
    float *dhidden, *dout;
  };
  // Lays out acts_ and scratch_ for B × T (growing them when `grow`); returns floats needed.
  std::pair<int64_t, int64_t> Layout(int64_t B, int64_t T, bool grow);
  // The weights Forward and Backward read: the fake-quantized copy where there is one.
  const float* P(TensorRole role, int layer) const;
  float* G(TensorRole role, int layer) { return Param(grads_, role, layer); }
  void LayerForward(int l, const float* x_in, float* x_out);
  void LayerBackward(int l, float* dres);

  Config config_;
  std::vector<ParamTensor> tensors_;
  std::vector<std::array<int64_t, kRoleCount>> offsets_;  // [layer + 1][role], -1 when absent
  std::vector<float> params_, grads_;
  // QAT: the spec, and the copies laid out as params_ (filled for fake-quantized tensors only).
  FakeQuantSpec fake_quant_;
  std::vector<float> fake_params_;
  std::vector<std::vector<uint8_t>> fake_blocks_;   // per tensor; kExactFrozenSteps only
  std::vector<std::array<bool, kRoleCount>> fake_;  // [layer + 1][role]: read from fake_params_
  bool fake_quant_stale_ = true;
  double fake_quant_seconds_ = 0;
  int64_t fake_quant_refreshes_ = 0;
  // Activations and the backward pass's scratch, each one allocation; pointers below point in.
  std::vector<float> acts_, scratch_;
  std::vector<LayerActs> layer_acts_;
  Scratch scratch_ptrs_{};
  float *x_final_ = nullptr, *final_in_ = nullptr, *final_rstd_ = nullptr;
  float *logits_raw_ = nullptr, *logits_ = nullptr;
  std::vector<int32_t> tokens_, positions_;
  int64_t B_ = 0, T_ = 0;
};

}  // namespace shrink::train
