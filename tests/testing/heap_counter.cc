// Replaces the global operator new/delete family (the standard allows it; so does ASan) with
// versions that count the bytes asked for: each block carries its requested size in a header of
// __STDCPP_DEFAULT_NEW_ALIGNMENT__ bytes (so the memory handed out keeps new's alignment), and
// delete subtracts exactly what new added. Not counted: the aligned (std::align_val_t) forms, which
// stay the library's own, and C allocations (malloc), such as stdio's FILE buffer.
#include "testing/heap_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_peak_bytes{0};

constexpr std::size_t kHeader = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
static_assert(kHeader >= sizeof(std::size_t));

void* CountedAllocate(std::size_t n) {
  void* block = std::malloc(kHeader + n);
  if (block == nullptr) return nullptr;
  *static_cast<std::size_t*>(block) = n;
  void* p = static_cast<char*>(block) + kHeader;
  const auto size = static_cast<int64_t>(n);
  const int64_t live = g_live_bytes.fetch_add(size, std::memory_order_relaxed) + size;
  int64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (live > peak &&
         !g_peak_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return p;
}

void* CountedAllocateOrThrow(std::size_t n) {
  void* p = CountedAllocate(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// GCC inlines this into delete expressions and then sees free() on a pointer from new; here new
// is CountedAllocate, which mallocs the block that free() gets, so the pairing is right.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void CountedFree(void* p) {
  if (p == nullptr) return;
  void* block = static_cast<char*>(p) - kHeader;
  g_live_bytes.fetch_sub(static_cast<int64_t>(*static_cast<std::size_t*>(block)),
                         std::memory_order_relaxed);
  std::free(block);
}
#pragma GCC diagnostic pop

}  // namespace

namespace shrink::testing {

int64_t HeapBytesInUse() { return g_live_bytes.load(); }
int64_t HeapPeakBytes() { return g_peak_bytes.load(); }
void ResetHeapPeak() { g_peak_bytes.store(g_live_bytes.load()); }

}  // namespace shrink::testing

void* operator new(std::size_t n) { return CountedAllocateOrThrow(n); }
void* operator new[](std::size_t n) { return CountedAllocateOrThrow(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return CountedAllocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return CountedAllocate(n); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
