#include "io/llama2c_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "testing/test_paths.h"

namespace shrink {
namespace {

using ::testing::HasSubstr;

const std::string kStories = "models/stories260K/stories260K.bin";

TEST(Llama2cCheckpointTest, ReadsStories260K) {
  const auto path = testing::SharedPath(kStories);
  SHRINK_SKIP_IF_MISSING(path);
  auto c = Llama2cCheckpoint::Open(path.string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // Values from ../shared/docs/models.md (stories260K: dim 64, hidden 172, 5 layers, 8/4 heads, vocab 512).
  EXPECT_EQ(c->header.dim, 64);
  EXPECT_EQ(c->header.hidden_dim, 172);
  EXPECT_EQ(c->header.n_layers, 5);
  EXPECT_EQ(c->header.n_heads, 8);
  EXPECT_EQ(c->header.n_kv_heads, 4);
  EXPECT_EQ(c->header.vocab_size, 512);
  EXPECT_EQ(c->header.seq_len, 512);
  EXPECT_TRUE(c->header.shared_classifier);
  EXPECT_EQ(c->wq.size(), 5u * 64 * 64);
  EXPECT_EQ(c->wk.size(), 5u * 32 * 64);
  EXPECT_EQ(c->w1.size(), 5u * 172 * 64);
  EXPECT_EQ(c->wcls.data(), c->token_embedding.data());
  // The first float after the header is the first embedding value.
  std::ifstream in(path, std::ios::binary);
  in.seekg(28);
  float first;
  in.read(reinterpret_cast<char*>(&first), 4);
  EXPECT_EQ(c->token_embedding[0], first);
}

TEST(Llama2cCheckpointTest, TruncatedFileNamesSizes) {
  const auto path = testing::SharedPath(kStories);
  SHRINK_SKIP_IF_MISSING(path);
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(bytes.size() - 100);
  const auto cut = testing::ScratchDir() / "cut.bin";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), bytes.size());
  auto c = Llama2cCheckpoint::Open(cut.string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("cut.bin"));
  EXPECT_THAT(c.status().message(), HasSubstr("implies 1056540 bytes"));
}

TEST(Llama2cCheckpointTest, BadHeaderNamesField) {
  const auto path = testing::ScratchDir() / "bad.bin";
  const int32_t header[7] = {64, 172, 0, 8, 4, 512, 512};
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(header), 28);
  auto c = Llama2cCheckpoint::Open(path.string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("n_layers (offset 8) is 0"));
}

// The header of issue 6: dim 2^28, hidden_dim 178,956,964, 32 layers, n_heads 2^26 (head size 4),
// 1 KV head, vocab 319 (shared classifier), seq_len 16. In floats the file holds
// 2^28·X + 4·seq_len with X = V + 2L + 2L·dim + 2L·(n_kv_heads·4) + 3L·hidden_dim + 1 = 2^35
// (96·178,956,964 = 2^34 − 640 and 319 + 64 + 256 + 1 = 640), so its size is 2^65 + 284 bytes, and
// 64-bit arithmetic that wraps sees 284 bytes: exactly this file.
TEST(Llama2cCheckpointTest, HugeDimensionsThatWrapToTheFileSizeAreRejected) {
  const auto path = testing::ScratchDir() / "wraps.bin";
  const int32_t header[7] = {1 << 28, 178956964, 32, 1 << 26, 1, 319, 16};
  std::vector<char> bytes(284, 0);
  std::memcpy(bytes.data(), header, sizeof(header));
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
  auto c = Llama2cCheckpoint::Open(path.string());
  ASSERT_FALSE(c.ok()) << "a 284-byte file was accepted for a header implying 2^65 + 284 bytes";
  EXPECT_THAT(c.status().message(), HasSubstr("wraps.bin"));
  EXPECT_THAT(c.status().message(), HasSubstr("dim (offset 0) is 268435456, expected 1 to 65536"));
}

// Every field within its bound, but together implying more bytes than any file has: the size is
// computed without wrapping and compared, so the error states the real size.
TEST(Llama2cCheckpointTest, LargestHeaderWithinBoundsStatesItsSize) {
  const auto path = testing::ScratchDir() / "large.bin";
  const int32_t header[7] = {1 << 16, 1 << 20, 1 << 10, 1 << 10, 1 << 10, -(1 << 24), 1 << 24};
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(header), 28);
  auto c = Llama2cCheckpoint::Open(path.string());
  ASSERT_FALSE(c.ok());
  // Head size 64: 28 + 4·(2·2^24·2^16 + 2·2^10·2^16 + 4·2^10·2^16·2^16 + 3·2^10·2^20·2^16 + 2^16
  //                     + 2^24·64), about 840 TB.
  EXPECT_THAT(c.status().message(), HasSubstr("implies 923594599432220 bytes"));
}

TEST(Llama2cCheckpointTest, ShortFile) {
  const auto path = testing::ScratchDir() / "short.bin";
  std::ofstream(path, std::ios::binary).write("abc", 3);
  auto c = Llama2cCheckpoint::Open(path.string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("shorter than the 28-byte"));
}

}  // namespace
}  // namespace shrink
