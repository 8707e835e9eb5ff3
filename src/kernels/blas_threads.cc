#include "kernels/blas_threads.h"

#include <cblas.h>

#include <algorithm>

namespace shrink {

ScopedBlasThreads::ScopedBlasThreads(int n) : previous_(openblas_get_num_threads()) {
  openblas_set_num_threads(std::max(1, n));
}

ScopedBlasThreads::~ScopedBlasThreads() { openblas_set_num_threads(previous_); }

}  // namespace shrink
