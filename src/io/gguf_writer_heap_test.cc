// The streaming writer on a real model (SmolLM2-135M-Instruct Q4_1, skipped when absent): the
// rewrite is byte-identical, and the writer's own heap use stays within about one tensor.
//
// Heap use is measured with the counting operator new of tests/testing/heap_counter.h, which the
// io layer's test binary links.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "io/gguf.h"
#include "io/gguf_test_bytes.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "testing/heap_counter.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

// Live heap bytes now; resets the peak to them, so that PeakHeapGrowth measures from here.
uint64_t StartHeapMeasurement() {
  testing::ResetHeapPeak();
  return static_cast<uint64_t>(testing::HeapBytesInUse());
}
uint64_t PeakHeapGrowth(uint64_t baseline) {
  return static_cast<uint64_t>(testing::HeapPeakBytes()) - baseline;
}

TEST(GgufWriterHeapTest, CounterSeesAllocations) {
  const uint64_t baseline = StartHeapMeasurement();
  auto block = std::make_unique<uint8_t[]>(1 << 20);
  EXPECT_GE(PeakHeapGrowth(baseline), uint64_t{1} << 20);
  block.reset();
  EXPECT_LE(static_cast<uint64_t>(testing::HeapBytesInUse()), baseline);
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
