#include "kernels/matmul.h"

#include <cblas.h>

#include <cstring>

#include "base/check.h"

namespace shrink {

PreparedMatrix PreparedMatrix::Prepare(const MatrixRef& w, MatrixStrategy strategy) {
  PreparedMatrix m;
  m.w_ = w;
  m.strategy_ = strategy;
  const Result<int64_t> row_bytes = RowBytes(w.type, w.cols);
  SHRINK_CHECK(row_bytes.ok());
  m.row_bytes_ = *row_bytes;
  SHRINK_CHECK(static_cast<int64_t>(w.data.size()) == w.rows * m.row_bytes_);
  if (w.type == TensorType::kF32) {
    m.f32_ = reinterpret_cast<const float*>(w.data.data());
  } else if (strategy == MatrixStrategy::kDecodeToF32) {
    m.owned_.resize(static_cast<size_t>(w.rows * w.cols));
    // The whole matrix is one run of blocks: decode it in one call.
    Traits(w.type).decode(w.data.data(), m.owned_.data(), w.rows * w.cols);
    m.f32_ = m.owned_.data();
  }
  return m;
}

void PreparedMatrix::DecodeRow(int64_t r, float* out) const {
  SHRINK_CHECK(r >= 0 && r < w_.rows);
  if (f32_ != nullptr) {
    std::memcpy(out, f32_ + r * w_.cols, sizeof(float) * w_.cols);
  } else {
    Traits(w_.type).decode(w_.data.data() + r * row_bytes_, out, w_.cols);
  }
}

void PreparedMatrix::MatMul(const float* x, int64_t T, float* y) const {
  const int M = static_cast<int>(T), N = static_cast<int>(w_.rows), K = static_cast<int>(w_.cols);
  if (f32_ != nullptr) {
    if (T == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, f32_, K, x, 1, 0.0f, y, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, f32_, K, 0.0f, y,
                  N);
    }
    return;
  }
  // kDecodeRows: decode each weight row once and use it for all T inputs.
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t r = 0; r < w_.rows; ++r) {
    DecodeRow(r, row.data());
    for (int64_t t = 0; t < T; ++t) {
      const float* xt = x + t * K;
      float acc = 0.0f;
      for (int i = 0; i < K; ++i) acc += row[i] * xt[i];
      y[t * N + r] = acc;
    }
  }
}

void SetMatMulThreads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

}  // namespace shrink
