// Matrix products with weights held in any formats-table type.
//
//   y: (T, OC) = x: (T, C) · Wᵀ,   W: (OC, C) stored row by row in its TensorType's blocks.
//
// The model never touches a weight's encoding: it prepares each matrix once
// (PreparedMatrix::Prepare) and calls MatMul. How a prepared matrix computes is this file's
// business, so per-format SIMD kernels (Highway, runtime dispatch) can replace today's strategies
// without changing any caller:
//   - MatrixStrategy::kDecodeToF32 (default): non-F32 weights are decoded once (formats' scalar
//     decode) into an owned F32 copy; products are OpenBLAS sgemm (T > 1) or sgemv (T == 1). F32
//     weights are used in place, no copy. Costs 4 bytes per weight of memory (SmolLM2-135M:
//     ~540 MB).
//   - MatrixStrategy::kDecodeRows: no copy; each row is decoded into a scratch buffer and dotted
//     with the T inputs (F32 accumulation). Slow, small.
// Both accumulate dot products in F32 (docs/numerics.md, "Model forward").
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "formats/types.h"

namespace shrink {

// A weight matrix W: (rows, cols), rows consecutive, each row RowBytes(type, cols) bytes.
struct MatrixRef {
  TensorType type = TensorType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  std::span<const uint8_t> data;
};

enum class MatrixStrategy { kDecodeToF32, kDecodeRows };

class PreparedMatrix {
 public:
  PreparedMatrix() = default;
  PreparedMatrix(PreparedMatrix&&) = default;
  PreparedMatrix& operator=(PreparedMatrix&&) = default;
  PreparedMatrix(const PreparedMatrix&) = delete;
  PreparedMatrix& operator=(const PreparedMatrix&) = delete;

  // REQUIRES: w.data.size() == w.rows * RowBytes(w.type, w.cols) (loaders validate this), and
  // `w.data` outlives the prepared matrix (F32 weights and kDecodeRows read it in place).
  static PreparedMatrix Prepare(const MatrixRef& w,
                                MatrixStrategy strategy = MatrixStrategy::kDecodeToF32);

  int64_t rows() const { return w_.rows; }
  int64_t cols() const { return w_.cols; }
  // Bytes of the decoded copy this matrix owns (0 when it reads its weights in place).
  int64_t owned_bytes() const { return static_cast<int64_t>(owned_.size() * sizeof(float)); }

  // y: (T, rows) = x: (T, cols) · Wᵀ. `x` and `y` must not overlap.
  void MatMul(const float* x, int64_t T, float* y) const;
  // Decodes row r of W into out: (cols) (embedding lookup).
  void DecodeRow(int64_t r, float* out) const;

 private:
  MatrixRef w_;
  MatrixStrategy strategy_ = MatrixStrategy::kDecodeToF32;
  const float* f32_ = nullptr;  // W as F32 (in place or owned_), null for kDecodeRows on non-F32
  std::vector<float> owned_;
  int64_t row_bytes_ = 0;
};

// Threads OpenBLAS uses for the products (n >= 1). Call before running a model; affects the
// process.
void SetMatMulThreads(int n);

}  // namespace shrink
