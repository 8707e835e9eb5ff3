// ThreadPool: workers created once and reused for every parallel loop of a process.
//
// Run(n, fn) splits the index range [0, n) into chunks that the calling thread and the workers
// claim one at a time (an atomic counter), so a thread slowed by a competing process simply claims
// fewer chunks instead of holding everyone back. Which thread runs a chunk is timing-dependent;
// callers make results independent of it by giving every chunk its own outputs (rows of a matrix
// product), so a loop's results are identical from run to run and for any thread count.
//
// Waiting threads spin briefly (a parallel loop follows the last one within microseconds during
// generation), then sleep on a futex (std::atomic::wait), so an idle pool does not burn a core that
// another process could use.
//
// Thread safety: Run may be called from one thread at a time (not re-entrantly from inside fn).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace shrink {

class ThreadPool {
 public:
  // fn(begin, end, thread): processes indices [begin, end); `thread` in [0, threads()) names the
  // thread running it (0 is the caller), for per-thread scratch.
  using ChunkFn = void (*)(void* context, int64_t begin, int64_t end, int thread);

  // REQUIRES: threads >= 1. Starts threads - 1 workers.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn over [0, n) in chunks of `grain` indices (the last may be shorter) and returns when all
  // are done. With one thread, or a single chunk, fn runs on the caller only.
  template <typename Fn>
  void Run(int64_t n, int64_t grain, const Fn& fn) {
    RunChunks(n, grain, &CallChunk<Fn>, const_cast<Fn*>(&fn));
  }

 private:
  template <typename Fn>
  static void CallChunk(void* context, int64_t begin, int64_t end, int thread) {
    (*static_cast<const Fn*>(context))(begin, end, thread);
  }
  void RunChunks(int64_t n, int64_t grain, ChunkFn fn, void* context);
  void WorkerLoop(int thread);
  // Claims and runs chunks of job `generation` until none are left; returns at once when a newer
  // job has replaced it.
  void DrainChunks(uint32_t generation, int thread);

  std::vector<std::thread> workers_;
  // The current job's parameters. Written by Run before the job is published and read by workers
  // after; atomics (relaxed) because a worker that wakes late may read them while the next job is
  // being set up, and then discards what it read (its claim below fails).
  std::atomic<ChunkFn> fn_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<int64_t> n_{0}, grain_{1};
  std::atomic<uint32_t> chunks_{0};
  // (generation << 32) | next unclaimed chunk: a claim is a compare-and-swap that succeeds only
  // for the job whose parameters the worker read, so no chunk of one job runs with another's fn.
  std::atomic<uint64_t> claim_{0};
  // The generation as a futex word: sleeping workers wait for it to change.
  std::atomic<uint32_t> generation_{0};
  // Chunks of the current job finished; the caller waits for it to reach chunks_.
  std::atomic<uint32_t> done_{0};
  std::atomic<bool> stop_{false};
};

// How long a waiting thread spins before it sleeps: longer than the gap between two parallel loops
// of one generated token (a few µs of norms and RoPE), far shorter than a scheduler tick, so an
// idle pool costs another process at most this much CPU per wake-up.
inline constexpr int64_t kThreadPoolSpinNanoseconds = 50'000;

}  // namespace shrink
