#include "testing/heap_counter.h"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace shrink::testing {
namespace {

std::atomic<int64_t> in_use{0};
std::atomic<int64_t> peak{0};

// Each block carries its size in a header, aligned for any type.
constexpr size_t kHeader = alignof(std::max_align_t);

void* Allocate(size_t n) {
  void* p = std::malloc(n + kHeader);
  if (p == nullptr) throw std::bad_alloc();
  *static_cast<size_t*>(p) = n;
  const int64_t now = in_use.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
  int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
  return static_cast<char*>(p) + kHeader;
}

void Release(void* q) noexcept {
  if (q == nullptr) return;
  void* p = static_cast<char*>(q) - kHeader;
  in_use.fetch_sub(static_cast<int64_t>(*static_cast<size_t*>(p)));
  std::free(p);
}

}  // namespace

int64_t HeapBytesInUse() { return in_use.load(); }
int64_t HeapPeakBytes() { return peak.load(); }
void ResetHeapPeak() { peak.store(in_use.load()); }

}  // namespace shrink::testing

// Over-aligned allocations (alignas > max_align_t) keep the library's own operators; the tests
// that count memory allocate nothing over-aligned.
void* operator new(size_t n) { return shrink::testing::Allocate(n); }
void* operator new[](size_t n) { return shrink::testing::Allocate(n); }
void operator delete(void* p) noexcept { shrink::testing::Release(p); }
void operator delete[](void* p) noexcept { shrink::testing::Release(p); }
void operator delete(void* p, size_t) noexcept { shrink::testing::Release(p); }
void operator delete[](void* p, size_t) noexcept { shrink::testing::Release(p); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them, then frees it with the
// sized delete above): left to the library, or to ASan's own operators, they would hand the
// counting delete a block without its header.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return shrink::testing::Allocate(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t& tag) noexcept { return operator new(n, tag); }
void operator delete(void* p, const std::nothrow_t&) noexcept { shrink::testing::Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { shrink::testing::Release(p); }
