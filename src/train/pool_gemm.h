// Matrix products of training on the kernel thread pool.
//
// PoolSgemm computes C (m, n) = alpha · op(A) · op(B) + beta · C (row-major, op = transpose or not)
// as single-threaded OpenBLAS sgemms over slices of C's longer dimension, which the kernel thread
// pool runs. The pool then owns all of training's parallelism: OpenBLAS starts no threads of its
// own, so none spin (sched_yield) beside the pool's workers while the pool runs the other ops.
// Two slices per pool thread: each sgemm call packs its operands anew, and a packed element costs
// tens of multiply-adds, so slices are as few as balancing allows (a thread slowed by another
// process leaves its second slice to the others). The slices depend on the shape and the thread
// count only: a product gives the same bits for a given thread count. OpenBLAS stays at one thread
// (KernelThreads sets that; do not raise it while training).
//
// Shapes: op(A) is (m, k), stored (m, k) with row stride lda, or (k, m) when trans_a; op(B) is
// (k, n), stored (k, n) with stride ldb, or (n, k) when trans_b; C is (m, n) with stride ldc.
#pragma once

#include <cstdint>

namespace shrink::train {

// The smallest slice, in rows or columns of C: below it packing outweighs the balance it buys.
inline constexpr int64_t kMinSlice = 128;

// The same product as one single-threaded OpenBLAS sgemm on the calling thread (for callers that
// split the work over the pool themselves, as attention does per head).
void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

void PoolSgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

}  // namespace shrink::train
