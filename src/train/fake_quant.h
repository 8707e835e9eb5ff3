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

// How a fake-quantized tensor's blocks are chosen.
enum class FakeQuantRounding {
  // Every refresh re-encodes the masters with the type's encoder (encode_weighted with importance):
  // ggml's scale rule, the file `quantize` writes by default.
  kReference,
  // Exact one-scale steps (formats/exact_scale.h; `quantize --rounding exact`), only for types
  // with an exact step search (HasExactScaleEncoder: Q4_0, Q5_0, IQ4_NL). Each block's step is
  // searched ONCE, on the masters the spec is set on (EncodeExactScaleRows), and then kept: every
  // refresh re-rounds each element to the level nearest its master under its block's stored step
  // (RoundRowsOntoGrid). So the first forward pass reads exactly what `quantize --rounding exact`
  // writes for those masters, and a refresh is a nearest-level rounding with no search, where the
  // search costs ~20x the reference encoder. Why not search again during training: the masters
  // move a small fraction of a step over a run (QAT's learning rates), so the steps would barely
  // change, and keeping them makes the grid a function of the starting model alone, which
  // `--resume` rebuilds bit for bit without storing it in checkpoints. What training then moves
  // is the codes alone.
  kExactFrozenSteps,
};

// How one parameter tensor is read by the forward pass.
struct FakeQuantTensor {
  TensorType type = TensorType::kF32;  // kF32: the master itself, no copy
  // Empty, or one weight per column (the row length), all finite and >= 0: rows are encoded with
  // the type's encode_weighted (an imatrix's mean of x², quant/importance.h), as the writer does.
  std::vector<float> importance;
  FakeQuantRounding rounding = FakeQuantRounding::kReference;
};

// One entry per TrainableModel::tensors(), in that order.
using FakeQuantSpec = std::vector<FakeQuantTensor>;

// Whether `t` can fake-quantize a matrix of rows of `cols` (`name` in messages): its type has an
// encoder, its block divides `cols`, its importance has `cols` finite values >= 0 and the type an
// encode_weighted, and kExactFrozenSteps is asked only of a type with an exact step search. A 1-D
// tensor (rows == 1 and `matrix` false) must stay kF32, as the writer keeps vectors in F32.
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

// kExactFrozenSteps' first encoding: blocks (rows × RowBytes(type, cols)) = EncodeRowExactScale of
// each row (importance-weighted when `importance` is non-empty), the bytes `quantize --rounding
// exact` writes. Rows on the kernel pool; independent of the thread count.
// REQUIRES: HasExactScaleEncoder(traits), cols % block_elements == 0, every src value finite,
// importance empty or `cols` values >= 0.
void EncodeExactScaleRows(const TypeTraits& traits, const float* src, uint8_t* blocks, int64_t rows,
                          int64_t cols, std::span<const float> importance = {});

// kExactFrozenSteps' refresh: in every block of `blocks` (encoded rows of `traits`), each element's
// code becomes that of the level nearest src's value under the block's stored parameters (ties to
// the lower code, formats/block_grid.h RoundElement), and dst = the decoded rows. A row of src
// holding a NaN or an infinity is written to dst as all NaN, its blocks left as they were.
// REQUIRES: traits.grid != nullptr, cols % block_elements == 0, src and dst do not overlap.
void RoundRowsOntoGrid(const TypeTraits& traits, const float* src, uint8_t* blocks, float* dst,
                       int64_t rows, int64_t cols);

}  // namespace shrink::train
