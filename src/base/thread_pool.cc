#include "base/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "base/check.h"

namespace shrink {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Waits until `word` no longer holds `old`: spins first, then sleeps on the futex.
void WaitWhileEquals(const std::atomic<uint32_t>& word, uint32_t old) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until =
      Clock::now() + std::chrono::nanoseconds(kThreadPoolSpinNanoseconds);
  for (int i = 1;; ++i) {
    if (word.load(std::memory_order_acquire) != old) return;
    CpuRelax();
    // Reading the clock costs about as much as a few pauses: check it every 16.
    if (i % 16 == 0 && Clock::now() >= until) break;
  }
  while (word.load(std::memory_order_acquire) == old) word.wait(old, std::memory_order_acquire);
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  SHRINK_CHECK(threads >= 1);
  workers_.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::RunChunks(int64_t n, int64_t grain, ChunkFn fn, void* context) {
  if (n <= 0) return;
  SHRINK_CHECK(grain >= 1);
  const int64_t chunks = (n + grain - 1) / grain;
  SHRINK_CHECK(chunks <= std::numeric_limits<uint32_t>::max());
  if (workers_.empty() || chunks == 1) {
    for (int64_t b = 0; b < n; b += grain) fn(context, b, std::min(n, b + grain), 0);
    return;
  }
  // All chunks of the previous job are done (we waited for them), so nobody reads the parameters
  // now except late workers, whose claims must fail. First block claims: the claim word gets the
  // new generation with no chunk claimable (index UINT32_MAX >= any chunk count). The release fence
  // orders that store before the parameter stores: a late worker that reads any new parameter
  // then (after its acquire fence, DrainChunks) sees this blocked word or a later one, so its
  // compare-and-swap against the old generation fails. Without it, a worker could read the new,
  // larger chunk count beside the old job's exhausted claim word, claim "chunk k" of the finished
  // job, run it with mixed parameters and count it as done in the new job.
  const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store((uint64_t{generation} << 32) | std::numeric_limits<uint32_t>::max(),
               std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  fn_.store(fn, std::memory_order_relaxed);
  context_.store(context, std::memory_order_relaxed);
  n_.store(n, std::memory_order_relaxed);
  grain_.store(grain, std::memory_order_relaxed);
  chunks_.store(static_cast<uint32_t>(chunks), std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(uint64_t{generation} << 32, std::memory_order_release);
  generation_.store(generation, std::memory_order_release);
  generation_.notify_all();

  DrainChunks(generation, 0);
  // Wait for chunks other threads are still running (not for workers that never woke up).
  for (;;) {
    const uint32_t done = done_.load(std::memory_order_acquire);
    if (done == chunks) break;
    WaitWhileEquals(done_, done);
  }
}

void ThreadPool::DrainChunks(uint32_t generation, int thread) {
  const ChunkFn fn = fn_.load(std::memory_order_relaxed);
  void* const context = context_.load(std::memory_order_relaxed);
  const int64_t n = n_.load(std::memory_order_relaxed);
  const int64_t grain = grain_.load(std::memory_order_relaxed);
  const uint32_t chunks = chunks_.load(std::memory_order_relaxed);
  // Pairs with RunChunks' release fence: if any load above saw a newer job's parameter, the claim
  // word read below is that job's blocked word or later, and nothing is claimed with them.
  std::atomic_thread_fence(std::memory_order_acquire);
  uint64_t claim = claim_.load(std::memory_order_acquire);
  for (;;) {
    // A newer job, or none left: what was read above may belong to another job; stop.
    if ((claim >> 32) != generation || static_cast<uint32_t>(claim) >= chunks) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // `claim` now holds the current value
    }
    // The claim succeeded while this generation was current and this chunk unclaimed: the job
    // cannot finish (nor its parameters change) before this chunk is done, so they are valid.
    const int64_t begin = static_cast<int64_t>(static_cast<uint32_t>(claim)) * grain;
    fn(context, begin, std::min(n, begin + grain), thread);
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) done_.notify_all();
    claim = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop(int thread) {
  uint32_t seen = 0;
  for (;;) {
    WaitWhileEquals(generation_, seen);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    DrainChunks(seen, thread);
  }
}

}  // namespace shrink
