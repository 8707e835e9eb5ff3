// Scalar reference kernels: the oracle every fast kernel is tested against.
//
// Written for clarity, straight from the formulas, accumulating in F64, with no caching or BLAS.
// Same shapes and contracts as the fast kernel of the same name (see norm.h, rope.h, softmax.h,
// attention.h, activation.h, matmul.h); they are slow and never used by the model.
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/rope.h"

namespace shrink::reference {

// x: (T, C), w: (C) -> y: (T, C).
void RmsNorm(const float* x, const float* w, int64_t T, int64_t C, float eps, float* y);
// x: (T, n_heads, head_dim) in place; angles theta_j = (pos0 + t) * position_scale *
// base^(-2j / rope_dims) in F64.
void Rope(const RopeParams& params, int64_t T, int64_t pos0, float* x);
// x: (n) in place.
void Softmax(float* x, int64_t n);
// Same shapes as shrink::Attention, no scratch.
void Attention(const AttentionParams& params, int64_t T, int64_t pos0, const float* q,
               const float* k, const float* v, float* out);
void SwiGlu(const float* gate, const float* up, int64_t n, float* out);
void GeluTanhGlu(const float* gate, const float* up, int64_t n, float* out);
// y: (T, w.rows) = x: (T, w.cols) · Wᵀ, decoding each row with the formats table's scalar decode.
void MatMul(const MatrixRef& w, const float* x, int64_t T, float* y);

}  // namespace shrink::reference
