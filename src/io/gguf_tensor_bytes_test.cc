// Tensor types and byte sizes from the types table, and GgufFile::Open's use of them.
#include <gtest/gtest.h>

#include <algorithm>

#include "io/gguf.h"
#include "io/gguf_test_bytes.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

uint64_t BytesOf(uint32_t type_id, std::span<const int64_t> shape) {
  return *GgufTensorBytes(**GgufTensorType(type_id), shape);
}

// Block sizes as in ggml: block_q4_0 18 bytes per 32, F16 2 per element, block_q6_K 210 per 256.
TEST(GgufTensorBytesTest, UsesBlockSizes) {
  const int64_t q4_0[] = {64, 3};
  EXPECT_EQ(BytesOf(2, q4_0), 2u * 18u * 3u);
  const int64_t f16[] = {5, 2, 3};
  EXPECT_EQ(BytesOf(1, f16), 5u * 2u * 2u * 3u);
  const int64_t q6_k[] = {512};
  EXPECT_EQ(BytesOf(14, q6_k), 420u);
}

TEST(GgufTensorBytesTest, RejectsUnknownIdsAndPartialBlocks) {
  auto unknown = GgufTensorType(99);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "unknown tensor type id 99, expected one of the ids in formats/types.h");
  const int64_t partial[] = {48, 2};
  auto bad_row = GgufTensorBytes(Traits(TensorType::kQ8_0), partial);  // Q8_0 blocks hold 32
  ASSERT_FALSE(bad_row.ok());
  EXPECT_NE(bad_row.status().message().find("Q8_0"), std::string::npos)
      << bad_row.status().message();
  const int64_t huge[] = {1ll << 40, 1ll << 40};  // 2^80 F32 bytes
  auto overflow = GgufTensorBytes(Traits(TensorType::kF32), huge);
  ASSERT_FALSE(overflow.ok());
  EXPECT_NE(overflow.status().message().find("overflows"), std::string::npos);
}

TEST(GgufTensorBytesTest, OpenRejectsUnknownTypeNamingFileTensorAndOffset) {
  testing::GgufBytes b;
  b.Header(1, 0).Tensor("w", {32}, 77, 0).Pad(32).Fill(64, 0);
  const std::string path = b.WriteTo(testing::ScratchDir() / "unknown.gguf");
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(),
            path +
                ": tensor 'w' (entry 0 at offset 24): type at offset 45: unknown tensor type id "
                "77, expected one of the ids in formats/types.h");
}

// Sizes from gguf-py's GGUFReader (ReaderTensor.n_bytes) on the same file.
TEST(GgufTensorBytesTest, SmolLm2SpansMatchGgufPyAndRewriteIsByteIdentical) {
  const auto path = testing::SmolLm2Path();
  SHRINK_SKIP_IF_MISSING(path);
  auto f = GgufFile::Open(path.string());
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufTensorInfo* embd = f->FindTensor("token_embd.weight");
  EXPECT_EQ(embd->data.size(), 30081024u);
  EXPECT_EQ(embd->traits->type, TensorType::kQ8_0);
  EXPECT_EQ(f->FindTensor("blk.0.ffn_down.weight")->data.size(), 552960u);
  EXPECT_EQ(f->FindTensor("blk.0.ffn_down.weight")->traits->type, TensorType::kQ4_1);
  EXPECT_EQ(f->FindTensor("output_norm.weight")->data.size(), 2304u);

  const std::string copy = (testing::ScratchDir() / "smollm2.gguf").string();
  ASSERT_TRUE(WriteGguf(copy, f->metadata(), TensorsToWrite(*f)).ok());
  auto original = MappedFile::Open(path.string());
  auto rewritten = MappedFile::Open(copy);
  ASSERT_TRUE(original.ok() && rewritten.ok());
  ASSERT_EQ(rewritten->bytes().size(), original->bytes().size());
  const auto a = original->bytes(), b2 = rewritten->bytes();
  const auto mismatch = std::mismatch(a.begin(), a.end(), b2.begin());
  EXPECT_TRUE(mismatch.first == a.end())
      << "first difference at byte " << (mismatch.first - a.begin());
  std::filesystem::remove(copy);
}

}  // namespace
}  // namespace shrink
