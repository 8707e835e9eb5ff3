// Scalar reference kernels: the oracle every fast kernel is tested against.
//
// Written for clarity, straight from the formulas, accumulating in F64, with no caching or BLAS.
// Same shapes and contracts as the fast kernel of the same name (see norm.h, rope.h, softmax.h,
// attention.h, activation.h, matmul.h); they are slow and never used by the model.
#pragma once

#include <cstdint>

#include "kernels/activation_blocks.h"
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

// The integer kernels' scalar twins (block_matmul.h, activation_blocks.h):
// x: (n) -> n / 32 ActBlocks, bit-identical to the SIMD quantizer.
void QuantizeActivations(const float* x, int64_t n, ActBlock* out);
// y[t · w.rows + r], r in [r0, r1): Σ over units of scale·d·(Σ q_w·q_x) + min·(d·Σ q_x) per half,
// from the weights' integer view (weight_units.h) and T rows of w.cols / 32 ActBlocks; integer
// products exact, the sum of the unit terms in F64. REQUIRES: an integer type (VisitUnits).
void QuantizedMatMulRows(const MatrixRef& w, const ActBlock* xq, int64_t T, int64_t r0, int64_t r1,
                         float* y);

}  // namespace shrink::reference
