#include "model/prepared_model.h"

#include <vector>

#include "base/check.h"

namespace shrink {
namespace {

MatrixRef AsMatrix(const TensorView& v) { return {v.type, v.rows(), v.cols(), v.data}; }

}  // namespace

void PreparedLinear::MatMul(const float* x, int64_t T, float* y) const {
  if (!factored_) {
    whole_.MatMul(x, T, y);
    return;
  }
  // Per thread: sessions on different threads share the PreparedModel, never this buffer.
  thread_local std::vector<float> middle;
  middle.resize(static_cast<size_t>(T * a_.rows()));
  a_.MatMul(x, T, middle.data());
  b_.MatMul(middle.data(), T, y);
}

void PreparedLinear::MatMul(const SharedInput& x, float* y) const {
  if (!factored_) {
    whole_.MatMul(x, y);
    return;
  }
  thread_local std::vector<float> middle;
  middle.resize(static_cast<size_t>(x.T() * a_.rows()));
  a_.MatMul(x, middle.data());
  b_.MatMul(middle.data(), x.T(), y);
}

PreparedModel::PreparedModel(const Model& model) : model_(&model) {
  const Config& c = model.config;
  const Weights& w = model.weights;
  // In place: rows are decoded for lookups, and a tied token_embd is also the output matrix.
  embedding_ = PreparedMatrix::Prepare(AsMatrix(w.token_embd));
  output_norm_ = w.output_norm.f32().data();
  if (w.output.listed()) output_ = PreparedMatrix::Prepare(AsMatrix(w.output));
  layers_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    PreparedLayer& pl = layers_[l];
    for (const TensorSpec& spec : TensorTable()) {
      if (spec.scope != TensorScope::kLayer) continue;
      const TensorView& v = w.layers[l].*spec.layer_member;
      const auto i = static_cast<size_t>(spec.role);
      if (const LowRankPair& pair = w.layers[l].factors(spec.role); pair.listed()) {
        PreparedLinear& linear = pl.matrices_[i];
        linear.a_ = PreparedMatrix::Prepare(AsMatrix(pair.a));
        linear.b_ = PreparedMatrix::Prepare(AsMatrix(pair.b));
        linear.factored_ = true;
        continue;
      }
      if (!v.listed()) continue;
      if (spec.linear) {
        pl.matrices_[i].whole_ = PreparedMatrix::Prepare(AsMatrix(v));
      } else {
        pl.vectors_[i] = v.f32().data();
      }
    }
  }
}

const PreparedMatrix& PreparedModel::output() const {
  return model_->weights.output.listed() ? output_ : embedding_;
}

int64_t PreparedModel::owned_bytes() const {
  int64_t bytes = embedding_.owned_bytes() + output_.owned_bytes();
  for (const PreparedLayer& pl : layers_) {
    for (const PreparedLinear& m : pl.matrices_) bytes += m.owned_bytes();
  }
  return bytes;
}

}  // namespace shrink
