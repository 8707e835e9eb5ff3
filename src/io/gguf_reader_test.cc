#include <gtest/gtest.h>

#include <cstring>

#include "io/gguf.h"
#include "io/gguf_test_bytes.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

using testing::GgufBytes;

// A small valid file: three keys (one nested array), two f32 tensors (type 0, 4 bytes per element).
GgufBytes SmallFile() {
  GgufBytes b;
  b.Header(/*tensors=*/2, /*kvs=*/3);
  b.Key("general.architecture", 8).Str("llama");
  b.Key("x.count", 4).Put<uint32_t>(7);
  b.Key("x.nested", 9).Put<uint32_t>(9).Put<uint64_t>(2);  // array of 2 arrays
  b.Put<uint32_t>(5).Put<uint64_t>(2).Put<int32_t>(-1).Put<int32_t>(2);
  b.Put<uint32_t>(8).Put<uint64_t>(1).Str("hi");
  b.Tensor("a", {3}, 0, 0);
  b.Tensor("b", {2, 2}, 0, 32);
  b.Pad(32);
  b.Put<float>(1).Put<float>(2).Put<float>(3).Pad(32);
  b.Put<float>(4).Put<float>(5).Put<float>(6).Put<float>(7);
  return b;
}

TEST(GgufReaderTest, ReadsSmallFile) {
  const std::string path = SmallFile().WriteTo(testing::ScratchDir() / "small.gguf");
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  ASSERT_EQ(f->metadata().size(), 3u);
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(*f->GetInt("x.count"), 7);
  EXPECT_DOUBLE_EQ(*f->GetFloat("x.count"), 7.0);
  auto nested = f->GetArray("x.nested");
  ASSERT_TRUE(nested.ok());
  ASSERT_EQ((*nested)->element_type(), GgufValueType::kArray);
  ASSERT_EQ((*nested)->size(), 2u);
  const GgufArray& ints = (*nested)->ArrayAt(0);
  EXPECT_EQ(ints.element_type(), GgufValueType::kInt32);
  EXPECT_EQ(ints.IntAt(0), -1);
  EXPECT_EQ(ints.IntAt(1), 2);
  EXPECT_EQ(ints.values<int32_t>()[1], 2);
  EXPECT_EQ(ints.At(0).AsInt(), -1);
  EXPECT_EQ((*nested)->ArrayAt(1).StringAt(0), "hi");

  ASSERT_EQ(f->tensors().size(), 2u);
  const GgufTensorInfo* b = f->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(b->element_count(), 4);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(b->traits, FindType(0));  // F32
  // `data` spans exactly each tensor's bytes (F32: 4 per element), without the padding.
  EXPECT_EQ(f->FindTensor("a")->data.size(), 12u);
  ASSERT_EQ(b->data.size(), 16u);
  float v[4];
  std::memcpy(v, b->data.data(), 16);
  EXPECT_EQ(v[3], 7.0f);
}

TEST(GgufReaderTest, MissingAndMistypedKeysNameFileAndKey) {
  const std::string path = SmallFile().WriteTo(testing::ScratchDir() / "small.gguf");
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok());
  auto missing = f->GetInt("llama.block_count");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), path + ": missing required key 'llama.block_count'");
  auto mistyped = f->GetInt("general.architecture");
  ASSERT_FALSE(mistyped.ok());
  EXPECT_EQ(mistyped.status().message(),
            path + ": key 'general.architecture' has type string, expected an integer");
}

// Expected values come from gguf-py's GGUFReader on the same file.
TEST(GgufReaderTest, ReadsSmolLm2LikeGgufPy) {
  const auto path = testing::SmolLm2Path();
  SHRINK_SKIP_IF_MISSING(path);
  auto f = GgufFile::Open(path.string());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->tensors().size(), 272u);
  EXPECT_EQ(f->metadata().size(), 33u);
  EXPECT_EQ(f->data_offset(), 1785664u);
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(*f->GetInt("llama.block_count"), 30);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->GetFloat("llama.rope.freq_base")), 100000.0f);
  EXPECT_EQ((*f->GetArray("tokenizer.ggml.tokens"))->size(), 49152u);
  EXPECT_EQ((*f->GetArray("tokenizer.ggml.merges"))->size(), 48900u);
  const GgufTensorInfo* emb = f->FindTensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type_id, 8u);  // Q8_0
  EXPECT_EQ(emb->shape, (std::vector<int64_t>{576, 49152}));
  EXPECT_EQ(f->data_offset() + emb->offset, 1785664u);
  const GgufTensorInfo* norm = f->FindTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(f->data_offset() + norm->offset, 98360128u);
}

}  // namespace
}  // namespace shrink
