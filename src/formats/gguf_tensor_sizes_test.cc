#include "formats/gguf_tensor_sizes.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "io/gguf_test_bytes.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

TEST(GgufTensorBytesTest, UsesBlockSizes) {
  const int64_t q4_0[] = {64, 3};  // 2 blocks of 32 per row, 18 bytes each (ggml's block_q4_0)
  EXPECT_EQ(*GgufTensorBytes(2, q4_0), 2u * 18u * 3u);
  const int64_t f16[] = {5, 2, 3};
  EXPECT_EQ(*GgufTensorBytes(1, f16), 5u * 2u * 2u * 3u);
  const int64_t q6_k[] = {512};  // 2 super-blocks of 256, 210 bytes each
  EXPECT_EQ(*GgufTensorBytes(14, q6_k), 420u);
}

TEST(GgufTensorBytesTest, RejectsUnknownIdsAndPartialBlocks) {
  const int64_t shape[] = {64};
  auto unknown = GgufTensorBytes(99, shape);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown tensor type id 99"), std::string::npos);
  const int64_t partial[] = {48, 2};
  auto bad_row = GgufTensorBytes(8, partial);  // Q8_0 blocks hold 32
  ASSERT_FALSE(bad_row.ok());
  EXPECT_NE(bad_row.status().message().find("Q8_0"), std::string::npos)
      << bad_row.status().message();
}

TEST(GgufTensorBytesTest, OpenGgufRejectsUnknownTypeWithFileAndTensor) {
  testing::GgufBytes b;
  b.Header(1, 0).Tensor("w", {32}, 77, 0).Pad(32).Fill(64, 0);
  const std::string path = b.WriteTo(testing::ScratchDir() / "unknown.gguf");
  auto f = OpenGguf(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(),
            path +
                ": tensor 'w' (entry 0 at offset 24): unknown tensor type id 77, expected one "
                "of the ids in formats/types.h");
}

// Sizes from gguf-py's GGUFReader (ReaderTensor.n_bytes) on the same file.
TEST(GgufTensorBytesTest, SmolLm2SpansMatchGgufPyAndRewriteIsByteIdentical) {
  const auto path = testing::SmolLm2Path();
  SHRINK_SKIP_IF_MISSING(path);
  auto f = OpenGguf(path.string());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->FindTensor("token_embd.weight")->data.size(), 30081024u);
  EXPECT_EQ(f->FindTensor("blk.0.ffn_down.weight")->data.size(), 552960u);
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
