// Matrix products with weights held in any formats-table type.
//
//   y: (T, OC) = x: (T, C) · Wᵀ,   W: (OC, C) stored row by row in its TensorType's blocks.
//
// The model never touches a weight's encoding: it prepares each matrix once
// (PreparedMatrix::Prepare) and calls MatMul. How a prepared matrix computes is this file's
// business:
//   - MatrixStrategy::kInPlace (default): no copy of the weights (a mapped file's pages are their
//     only copy). Every product runs our SIMD kernels on the stored blocks: integer formats take
//     the activations quantized to 8-bit blocks (activation_blocks.h, once per product),
//     F16/BF16/F32 the F32 activations. Batches of fewer than kPromptMinRows rows (generation) use
//     the row kernels (BlockMatMulRows), larger ones (prompts) the register-tiled prompt kernels:
//     BlockGemmRows for integer formats, FloatGemm (float_gemm.h, converting F16/BF16 in the
//     kernel) for float ones. Rows are split over the kernel thread pool (kernel_threads.h). Types
//     without an in-place kernel (BlockKernelFor == kNone) fall back to kDecodeToF32. Exact F32
//     products on request: from BlasMinRows() rows (never by default; SetBlasMinRows or the
//     environment variable SHRINK_BLAS_MIN_ROWS; the name is historical, no BLAS is involved) W
//     is decoded tile by tile into a per-thread F32 buffer (bit-identical to the formats table's
//     decode; float types are converted inside the kernel) and multiplied by FloatGemm with F32
//     activations.
//   - MatrixStrategy::kDecodeToF32: non-F32 weights are decoded once (formats' scalar decode) into
//     an owned F32 copy (4 bytes per weight); products are FloatGemm.
//   - MatrixStrategy::kDecodeRows: no copy; each row is decoded into a scratch buffer and dotted
//     with the T inputs (F32 accumulation). Slow, small.
// All accumulate in F32; the integer kernels' extra error (8-bit activations) is bounded in
// docs/numerics.md ("Integer kernels"). Results never depend on the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "formats/types.h"
#include "kernels/activation_blocks.h"

namespace shrink {

// A weight matrix W: (rows, cols), rows consecutive, each row RowBytes(type, cols) bytes.
struct MatrixRef {
  TensorType type = TensorType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  std::span<const uint8_t> data;
};

enum class MatrixStrategy { kInPlace, kDecodeToF32, kDecodeRows };

// One input x: (T, cols) of several products (Q, K and V; gate and up): integer-format products
// take the 8-bit activation blocks of x (activation_blocks.h) from here, computed by the first
// product that needs them and reused by the rest, instead of quantizing x once per product. The
// blocks live in one per-thread buffer: another SharedInput using it in between makes this one
// quantize again (correct, only slower), so keep one alive per thread at a time. `x` must stay
// unchanged while the SharedInput lives.
class SharedInput {
 public:
  SharedInput(const float* x, int64_t T, int64_t cols) : x_(x), T_(T), cols_(cols) {}
  ~SharedInput();
  SharedInput(const SharedInput&) = delete;
  SharedInput& operator=(const SharedInput&) = delete;

  const float* x() const { return x_; }
  int64_t T() const { return T_; }
  int64_t cols() const { return cols_; }
  // T rows of cols / 32 blocks. REQUIRES: cols % 32 == 0.
  const ActBlock* Blocks() const;

 private:
  const float* x_;
  int64_t T_;
  int64_t cols_;
};

// kInPlace products with at least this many activation rows use the prompt kernels.
inline constexpr int64_t kPromptMinRows = 16;

class PreparedMatrix {
 public:
  PreparedMatrix() = default;
  PreparedMatrix(PreparedMatrix&&) = default;
  PreparedMatrix& operator=(PreparedMatrix&&) = default;
  PreparedMatrix(const PreparedMatrix&) = delete;
  PreparedMatrix& operator=(const PreparedMatrix&) = delete;

  // REQUIRES: w.data.size() == w.rows * RowBytes(w.type, w.cols) (loaders validate this), and
  // `w.data` outlives the prepared matrix (kInPlace, F32 weights and kDecodeRows read it in place).
  static PreparedMatrix Prepare(const MatrixRef& w,
                                MatrixStrategy strategy = MatrixStrategy::kInPlace);

  int64_t rows() const { return w_.rows; }
  int64_t cols() const { return w_.cols; }
  // Bytes of the decoded copy this matrix owns (0 when it reads its weights in place).
  int64_t owned_bytes() const { return static_cast<int64_t>(owned_.size() * sizeof(float)); }

  // The strategy in use (kInPlace falls back to kDecodeToF32 for types without a kernel).
  MatrixStrategy strategy() const { return strategy_; }

  // y: (T, rows) = x: (T, cols) · Wᵀ. `x` and `y` must not overlap. Not re-entrant across threads
  // (the products share the kernel thread pool); any number of matrices may be used in turn.
  void MatMul(const float* x, int64_t T, float* y) const;
  // The same product of a shared input (REQUIRES: x.cols() == cols()); identical results.
  void MatMul(const SharedInput& x, float* y) const;
  // Decodes row r of W into out: (cols) (embedding lookup).
  void DecodeRow(int64_t r, float* out) const;

 private:
  // xq: x's activation blocks when the caller has them, else nullptr (quantized here if needed).
  void InPlaceMatMul(const float* x, int64_t T, const ActBlock* xq, float* y) const;
  // Whether a kInPlace product of T rows runs an integer kernel on activation blocks.
  bool TakesActivationBlocks(int64_t T) const;
  void ExactMatMul(const float* x, int64_t T, float* y) const;

  MatrixRef w_;
  MatrixStrategy strategy_ = MatrixStrategy::kDecodeToF32;
  const float* f32_ = nullptr;  // W as F32 (in place or owned_), null for kDecodeRows on non-F32
  std::vector<float> owned_;
  int64_t row_bytes_ = 0;
};

// Threads the products use (n >= 1): the process-wide kernel thread pool (kernel_threads.h). Call
// before running a model; affects the process.
void SetMatMulThreads(int n);

// The batch size (activation rows) from which kInPlace products are exact F32 arithmetic (decoded
// tiles and FloatGemm, F32 activations); below it the in-place kernels (8-bit activations for
// integer formats). Starts at never or the environment's SHRINK_BLAS_MIN_ROWS. SetBlasMinRows(1)
// makes every product exact F32 arithmetic (the model oracle tests); rows <= 0: never. Affects the
// process. (Named when these products were BLAS sgemm.)
int64_t BlasMinRows();
void SetBlasMinRows(int64_t rows);

}  // namespace shrink
