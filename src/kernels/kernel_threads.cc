#include "kernels/kernel_threads.h"

#include <cblas.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>

namespace shrink {
namespace {

std::mutex pool_mutex;
std::unique_ptr<ThreadPool>& Pool() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}

void Create(int n) {
  openblas_set_num_threads(1);
  Pool() = std::make_unique<ThreadPool>(std::max(1, n));
}

}  // namespace

ThreadPool& KernelThreads() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (Pool() == nullptr)
    Create(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return *Pool();
}

void SetKernelThreads(int n) {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (Pool() != nullptr && Pool()->threads() == std::max(1, n)) return;
  Pool().reset();
  Create(n);
}

}  // namespace shrink
