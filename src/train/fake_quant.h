// Fake quantization for quantization-aware training (QAT): a weight matrix W is read in the forward
// pass as decode(encode(W)), the formats table's own encoder and decoder of a GGUF type T (its
// block grid and scale rule, importance-weighted when given), so the network trains against exactly
// the values a file of type T will hold.
//
// The backward pass is the straight-through estimator (Bengio et al. 2013): rounding has zero
// derivative almost everywhere, so the gradient w.r.t. the fake-quantized copy Q(W) is used as the
// gradient w.r.t. the F32 master W. TrainableModel (train/trainable_model.h) keeps the copies and
// computes dx from Q(W), dW into the master's gradient.
//
// Which tensors get which type is decided outside train/ (the quantization plan, quant/plan.h, is a
// sibling layer): pipeline/quantized_training.h turns a plan into a FakeQuantSpec, so that what
// trains is exactly what the output writer encodes. Encoding the same F32 master with the same
// encoder gives the same bytes, so decode(file) == the copy, bit for bit.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "formats/types.h"

namespace shrink::train {

// How one parameter tensor is read by the forward pass.
struct FakeQuantTensor {
  TensorType type = TensorType::kF32;  // kF32: the master itself, no copy
  // Empty, or one weight per column (the row length), all finite and >= 0: rows are encoded with
  // the type's encode_weighted (an imatrix's mean of x², quant/importance.h), as the writer does.
  std::vector<float> importance;
};

// One entry per TrainableModel::tensors(), in that order.
using FakeQuantSpec = std::vector<FakeQuantTensor>;

// Whether `t` can fake-quantize a matrix of rows of `cols` (`name` in messages): its type has an
// encoder, its block divides `cols`, and its importance has `cols` finite values >= 0 and the type
// an encode_weighted. A 1-D tensor (rows == 1 and `matrix` false) must stay kF32, as the writer
// keeps vectors in F32.
Status CheckFakeQuantTensor(const FakeQuantTensor& t, std::string_view name, int64_t cols,
                            bool matrix);

// dst = decode(encode(src)) row by row for `rows` rows of `cols` floats, with `traits`' encode, or
// its encode_weighted when `importance` is non-empty. A row holding a NaN or an infinity (which
// the block encoders cannot take) is written as all NaN, so that the loss, not a crash, reports a
// diverged master. Rows are split over the kernel thread pool; the result does not depend on the
// thread count (each row is coded by one thread).
// REQUIRES: CheckFakeQuantTensor passed for this type, importance and cols; src and dst do not
// overlap.
void FakeQuantizeRows(const TypeTraits& traits, const float* src, float* dst, int64_t rows,
                      int64_t cols, std::span<const float> importance = {});

}  // namespace shrink::train
