// PreparedModel: a Model's weights made ready for products, once per model.
//
// Every linear weight (the tensor table's `linear` rows) becomes a PreparedMatrix (kernels/
// matmul.h decides how: the stored blocks in place for every type with a SIMD kernel, a decoded
// F32 copy for the others); norm vectors are F32 pointers into the weights. A PreparedModel is read-only after construction and
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

inline constexpr size_t kTensorRoleCount = static_cast<size_t>(TensorRole::kOutput) + 1;

// One layer's prepared tensors, indexed by role. Roles the config does not list (Gemma's Q/K
// norms in a Llama model) hold an empty matrix / null vector.
class PreparedLayer {
 public:
  const PreparedMatrix& matrix(TensorRole role) const {
    return matrices_[static_cast<size_t>(role)];
  }
  // The F32 weights of a norm vector, or nullptr when the config does not have it.
  const float* vector(TensorRole role) const { return vectors_[static_cast<size_t>(role)]; }

 private:
  friend class PreparedModel;
  std::array<PreparedMatrix, kTensorRoleCount> matrices_;
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
