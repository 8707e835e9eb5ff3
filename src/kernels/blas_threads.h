// A scoped OpenBLAS thread count for BLAS/LAPACK-heavy steps outside the kernel thread pool.
//
// KernelThreads (kernel_threads.h) sets OpenBLAS to one thread, because inside the forward pass the
// pool owns the parallelism. Steps that are one large BLAS or LAPACK call (the Gram sum dsyrk of a
// Hessian, its Cholesky factorizations) run while the pool is idle and should use the requested
// threads through OpenBLAS itself. ScopedBlasThreads sets the count for its lifetime and restores
// the previous one. Not thread-safe: the count is process-wide; use it from the thread that drives
// the pool, never while a kernel runs.
#pragma once

namespace shrink {

class ScopedBlasThreads {
 public:
  // n < 1 means 1.
  explicit ScopedBlasThreads(int n);
  ~ScopedBlasThreads();
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int previous_;
};

}  // namespace shrink
