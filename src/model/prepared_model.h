// PreparedModel: a Model's weights made ready for products, once per model.
//
// Every linear weight (the tensor table's `linear` rows) becomes a PreparedMatrix (kernels/
// matmul.h decides how: the stored blocks in place for every type with a SIMD kernel, a decoded
// F32 copy for the others), or two for a low-rank factor pair (PreparedLinear); norm vectors are F32 pointers into the weights. A PreparedModel is read-only after construction and
// safe to share between threads: any number of InferenceSessions (model/transformer.h) run on one
// PreparedModel, each holding only its KV cache and activations.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/matmul.h"
#include "model/model.h"

namespace shrink {

// A layer's linear: one prepared matrix, or a low-rank factor pair (weights.h LowRankPair) run as
// two products through the same kernels: y = (x · Aᵀ) · Bᵀ, the (T, r) middle in a per-thread
// scratch buffer. Same interface as PreparedMatrix for the forward pass.
class PreparedLinear {
 public:
  int64_t rows() const { return factored_ ? b_.rows() : whole_.rows(); }
  int64_t cols() const { return factored_ ? a_.cols() : whole_.cols(); }
  bool factored() const { return factored_; }
  // The factor pair's rank (0 when whole).
  int64_t rank() const { return factored_ ? a_.rows() : 0; }
  // y: (T, rows) = x: (T, cols) · Wᵀ (W = B·A when factored). `x` and `y` must not overlap.
  void MatMul(const float* x, int64_t T, float* y) const;
  // The same for an input shared by several products (kernels/matmul.h SharedInput).
  void MatMul(const SharedInput& x, float* y) const;
  int64_t owned_bytes() const { return whole_.owned_bytes() + a_.owned_bytes() + b_.owned_bytes(); }

 private:
  friend class PreparedModel;
  PreparedMatrix whole_;
  PreparedMatrix a_, b_;
  bool factored_ = false;
};

// One layer's prepared tensors, indexed by role. Roles the config does not list (Gemma's Q/K
// norms in a Llama model) hold an empty matrix / null vector.
class PreparedLayer {
 public:
  const PreparedLinear& matrix(TensorRole role) const {
    return matrices_[static_cast<size_t>(role)];
  }
  // The F32 weights of a norm vector, or nullptr when the config does not have it.
  const float* vector(TensorRole role) const { return vectors_[static_cast<size_t>(role)]; }

 private:
  friend class PreparedModel;
  std::array<PreparedLinear, kTensorRoleCount> matrices_;
  std::array<const float*, kTensorRoleCount> vectors_{};
};

class PreparedModel {
 public:
  // REQUIRES: `model` outlives the PreparedModel, and its weights are loader-validated (shapes and
  // byte sizes as the config implies, norm vectors F32).
  explicit PreparedModel(const Model& model);
  PreparedModel(const PreparedModel&) = delete;
  PreparedModel& operator=(const PreparedModel&) = delete;

  const Model& model() const { return *model_; }
  const Config& config() const { return model_->config; }
  const PreparedLayer& layer(int l) const { return layers_[l]; }
  // token_embd: rows looked up by Embed, and the output projection when tied.
  const PreparedMatrix& embedding() const { return embedding_; }
  // The final projection to vocabulary logits: `output`, or `embedding()` when tied.
  const PreparedMatrix& output() const;
  const float* output_norm() const { return output_norm_; }
  // Bytes of decoded weight copies this object owns (0 when every matrix is used in place).
  int64_t owned_bytes() const;

 private:
  const Model* model_;
  PreparedMatrix embedding_;
  PreparedMatrix output_;
  const float* output_norm_ = nullptr;
  std::vector<PreparedLayer> layers_;
};

}  // namespace shrink
