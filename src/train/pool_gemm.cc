// PoolSgemm: fixed slices of C, one single-threaded OpenBLAS sgemm each (contract in
// train/pool_gemm.h).
#include "train/pool_gemm.h"

#include <cblas.h>

#include <algorithm>

#include "kernels/kernel_threads.h"

namespace shrink::train {
namespace {

int I(int64_t n) { return static_cast<int>(n); }

}  // namespace

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, I(m), I(n), I(k), alpha, a, I(lda), b, I(ldb),
              beta, c, I(ldc));
}

void PoolSgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  const bool by_rows = m >= n;
  const int64_t extent = by_rows ? m : n;
  const int64_t parts = 2 * int64_t{KernelThreads().threads()};
  const int64_t slice = std::max(kMinSlice, (extent + parts - 1) / parts);
  KernelThreads().Run(extent, slice, [&](int64_t begin, int64_t end, int) {
    const int64_t i0 = by_rows ? begin : 0, rows = by_rows ? end - begin : m;
    const int64_t j0 = by_rows ? 0 : begin, cols = by_rows ? n : end - begin;
    // Rows i0.. of op(A) and columns j0.. of op(B), wherever the storage order puts them.
    const float* a_slice = trans_a ? a + i0 : a + i0 * lda;
    const float* b_slice = trans_b ? b + j0 * ldb : b + j0;
    Sgemm(trans_a, trans_b, rows, cols, k, alpha, a_slice, lda, b_slice, ldb, beta,
          c + i0 * ldc + j0, ldc);
  });
}

}  // namespace shrink::train
