// The streaming writer on a real model (SmolLM2-135M-Instruct Q4_1, skipped when absent): the
// rewrite is byte-identical, and the writer's own heap use stays within about one tensor.
//
// To measure heap use, this file replaces the global operator new/delete family for the whole
// io_test binary (the standard allows replacing them; ASan allows it too). Each allocation counts
// its malloc_usable_size, so what delete subtracts always matches what new added. Not counted:
// the aligned (std::align_val_t) forms, which stay the library's own and which the writer does not
// use, and C allocations (malloc), such as stdio's FILE buffer (4 KiB with glibc).
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>

#include "io/gguf.h"
#include "io/gguf_test_bytes.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "testing/test_paths.h"

namespace {

std::atomic<uint64_t> g_live_bytes{0};
std::atomic<uint64_t> g_peak_bytes{0};

void* CountedAllocate(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) return nullptr;
  const uint64_t size = malloc_usable_size(p);
  const uint64_t live = g_live_bytes.fetch_add(size, std::memory_order_relaxed) + size;
  uint64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (live > peak &&
         !g_peak_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return p;
}

// GCC inlines this into delete expressions and then sees free() on a pointer from new; here new
// is CountedAllocate, which mallocs, so the pairing is right.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void CountedFree(void* p) {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}
#pragma GCC diagnostic pop

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = CountedAllocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = CountedAllocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return CountedAllocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return CountedAllocate(n); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }

namespace shrink {
namespace {

// Live heap bytes now; resets the peak to them, so that PeakHeapGrowth measures from here.
uint64_t StartHeapMeasurement() {
  const uint64_t live = g_live_bytes.load();
  g_peak_bytes.store(live);
  return live;
}
uint64_t PeakHeapGrowth(uint64_t baseline) { return g_peak_bytes.load() - baseline; }

TEST(GgufWriterHeapTest, CounterSeesAllocations) {
  const uint64_t baseline = StartHeapMeasurement();
  auto block = std::make_unique<uint8_t[]>(1 << 20);
  EXPECT_GE(PeakHeapGrowth(baseline), uint64_t{1} << 20);
  block.reset();
  EXPECT_LE(g_live_bytes.load(), baseline);
}

bool SameBytes(const std::string& a, const std::string& b) {
  auto x = MappedFile::Open(a);
  auto y = MappedFile::Open(b);
  return x.ok() && y.ok() && std::ranges::equal(x->bytes(), y->bytes());
}

// The producer copies each tensor from the mapped input into the writer's in-place buffer, as a
// quantizer would encode into it. Bound: the writer holds the encoded header (freed before the
// first tensor) and one buffer of the largest tensor; 1.2 × largest + header leaves room for the
// tensor-table bookkeeping (a few KiB here) and allocator rounding, but not for a second tensor
// or for the whole file (98 MB).
TEST(GgufWriterHeapTest, SmolLm2StreamedRewriteIsByteIdenticalWithinOneTensorOfHeap) {
  const auto path = testing::SmolLm2Path();
  SHRINK_SKIP_IF_MISSING(path);
  auto in = GgufFile::Open(path.string());
  ASSERT_TRUE(in.ok()) << in.status().message();
  const std::vector<std::pair<std::string, GgufValue>> metadata = in->metadata();  // a copy
  const std::vector<GgufTensorDecl> decls = TensorDecls(*in);
  uint64_t largest = 0;
  for (const GgufTensorInfo& t : in->tensors())
    largest = std::max<uint64_t>(largest, t.data.size());
  const uint64_t header_bytes = in->data_offset();  // header, metadata, tensor table, padding
  const std::string out = (testing::ScratchDir() / "smollm2_streamed.gguf").string();
  const std::vector<GgufTensorInfo>& inputs = in->tensors();

  const uint64_t baseline = StartHeapMeasurement();
  Status s = WriteGgufStreaming(out, metadata, decls, [&](size_t i, GgufTensorSink& sink) {
    const std::span<const uint8_t> from = inputs[i].data;
    auto to = sink.AppendInPlace(from.size());
    if (!to.ok()) return to.status();
    std::memcpy(to->data(), from.data(), from.size());
    return Status::Ok();
  });
  const uint64_t growth = PeakHeapGrowth(baseline);
  ASSERT_TRUE(s.ok()) << s.message();

  std::cout << "streaming rewrite of SmolLM2: peak heap growth " << growth
            << " bytes; largest tensor " << largest << " bytes; header " << header_bytes
            << " bytes; bound 1.2 x largest + header = "
            << static_cast<uint64_t>(1.2 * static_cast<double>(largest)) + header_bytes << "\n";
  RecordProperty("peak_heap_growth_bytes", std::to_string(growth));
  RecordProperty("largest_tensor_bytes", std::to_string(largest));
  RecordProperty("header_bytes", std::to_string(header_bytes));
  EXPECT_GE(growth, largest);  // the in-place buffer is counted, so the counter works
  EXPECT_LT(static_cast<double>(growth), 1.2 * static_cast<double>(largest) + header_bytes);
  EXPECT_TRUE(SameBytes(out, path.string())) << out << " differs from " << path;
  std::filesystem::remove(out);
}

// The whole-file form streams each span with Append, so it needs no tensor buffer at all; shown
// for comparison, bounded by the header alone (×3 for the header vector's doubling growth).
TEST(GgufWriterHeapTest, SmolLm2WholeFileRewriteNeedsNoTensorBuffer) {
  const auto path = testing::SmolLm2Path();
  SHRINK_SKIP_IF_MISSING(path);
  auto in = GgufFile::Open(path.string());
  ASSERT_TRUE(in.ok()) << in.status().message();
  const std::vector<GgufTensorToWrite> tensors = TensorsToWrite(*in);
  const std::string out = (testing::ScratchDir() / "smollm2_whole.gguf").string();

  const uint64_t baseline = StartHeapMeasurement();
  Status s = WriteGguf(out, in->metadata(), tensors);
  const uint64_t growth = PeakHeapGrowth(baseline);
  ASSERT_TRUE(s.ok()) << s.message();
  std::cout << "whole-file rewrite of SmolLM2: peak heap growth " << growth << " bytes; header "
            << in->data_offset() << " bytes\n";
  RecordProperty("peak_heap_growth_bytes", std::to_string(growth));
  EXPECT_LT(growth, 3 * in->data_offset());
  EXPECT_TRUE(SameBytes(out, path.string()));
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace shrink
