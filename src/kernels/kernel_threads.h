// The process-wide thread pool every parallel kernel runs on (matrix products split by rows,
// attention by heads and blocks of query rows).
//
// Created on first use with one thread per core (std::thread::hardware_concurrency), or with the
// count SetKernelThreads chose. OpenBLAS, still used inside attention heads, is set to one thread
// when the pool is created: the pool owns the parallelism, and BLAS threads of its own would spin
// against it.
#pragma once

#include "base/thread_pool.h"

namespace shrink {

ThreadPool& KernelThreads();

// Replaces the pool with one of `n` threads (n < 1 means 1). REQUIRES: no kernel is running.
void SetKernelThreads(int n);

}  // namespace shrink
