// Memory of metadata arrays (issue 6: `shrink inspect` on a 20 MB GGUF holding one 20-million-element
// u8 array used 964 MB, as each element was a whole GgufValue). A scalar array must cost about its
// stored bytes on the heap, whatever the element count.
//
// Heap use is measured with the counting operator new of tests/testing/heap_counter.h; the mapped
// file itself is not counted (mmap).
#include <gtest/gtest.h>

#include <cstdint>

#include "io/gguf.h"
#include "io/gguf_test_bytes.h"
#include "testing/heap_counter.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

// One key: an array of `count` elements of `type` (each `element_bytes` wide, all bytes `fill`).
std::string ArrayFile(const char* name, GgufValueType type, uint64_t count, size_t element_bytes,
                      uint8_t fill) {
  testing::GgufBytes b;
  b.Header(/*tensors=*/0, /*kvs=*/1);
  b.Key("big.array", static_cast<uint32_t>(GgufValueType::kArray));
  b.Put<uint32_t>(static_cast<uint32_t>(type)).Put<uint64_t>(count);
  b.Fill(count * element_bytes, fill);
  return b.WriteTo(testing::ScratchDir() / name);
}

// Peak heap growth of opening `path` and keeping the file open; the opened file is checked by the
// caller through `check`.
template <typename Check>
int64_t PeakHeapOfOpen(const std::string& path, Check check) {
  testing::ResetHeapPeak();
  const int64_t before = testing::HeapBytesInUse();
  auto f = GgufFile::Open(path);
  const int64_t peak = testing::HeapPeakBytes() - before;
  EXPECT_TRUE(f.ok()) << f.status().message();
  if (f.ok()) check(*f);
  return peak;
}

// Bound: the array's own bytes plus 64 KiB for the key, the index maps and allocator rounding. Each
// element as a GgufValue (a variant of string, array, ... plus its type) took 48+ bytes, so the old
// reader needed 48+ MB for this 1 MB array.
constexpr uint64_t kCount = uint64_t{1} << 20;
constexpr int64_t kSlack = 64 << 10;

TEST(GgufArrayHeapTest, U8ArrayCostsAboutItsBytes) {
  const std::string path = ArrayFile("u8.gguf", GgufValueType::kUint8, kCount, 1, 7);
  const int64_t peak = PeakHeapOfOpen(path, [](const GgufFile& f) {
    auto a = f.GetArray("big.array");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ((*a)->element_type(), GgufValueType::kUint8);
    ASSERT_EQ((*a)->size(), kCount);
    EXPECT_EQ((*a)->UintAt(kCount - 1), 7u);
    EXPECT_EQ((*a)->values<uint8_t>().size(), kCount);
  });
  EXPECT_LE(peak, static_cast<int64_t>(kCount) + kSlack);
}

TEST(GgufArrayHeapTest, F32ArrayCostsAboutItsBytes) {
  // Every byte 0x3f: each element is the float with bits 0x3f3f3f3f (about 0.747).
  const std::string path = ArrayFile("f32.gguf", GgufValueType::kFloat32, kCount, 4, 0x3f);
  const int64_t peak = PeakHeapOfOpen(path, [](const GgufFile& f) {
    auto a = f.GetArray("big.array");
    ASSERT_TRUE(a.ok());
    ASSERT_EQ((*a)->size(), kCount);
    EXPECT_NEAR((*a)->FloatAt(12345), 0.7470588, 1e-6);
    EXPECT_EQ((*a)->values<float>().size(), kCount);
  });
  EXPECT_LE(peak, static_cast<int64_t>(4 * kCount) + kSlack);
}

}  // namespace
}  // namespace shrink
