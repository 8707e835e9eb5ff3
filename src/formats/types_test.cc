#include "formats/types.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>

#include "testing/test_paths.h"

namespace shrink {
namespace {

// tests/data/formats/quant_sizes.txt is gguf.constants.GGML_QUANT_SIZES, written by
// tests/oracles/make_format_vectors.py: every row of our table must match gguf-py's id and sizes.
TEST(TypesTest, TableMatchesGgufPyQuantSizes) {
  std::ifstream in(testing::SourcePath("tests/data/formats/quant_sizes.txt"));
  ASSERT_TRUE(in) << "tests/data/formats/quant_sizes.txt is missing";
  std::set<std::string> seen;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name;
    uint32_t id;
    int64_t block_elements, block_bytes;
    ASSERT_TRUE(fields >> name >> id >> block_elements >> block_bytes) << line;
    const TypeTraits* t = FindTypeByName(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(static_cast<uint32_t>(t->type), id) << name;
    EXPECT_EQ(t->name, name);
    EXPECT_EQ(t->block_elements, block_elements) << name;
    EXPECT_EQ(t->block_bytes, block_bytes) << name;
    seen.insert(name);
  }
  EXPECT_EQ(seen.size(), AllTypes().size()) << "every table row must be checked";
}

TEST(TypesTest, RowsAreInIdOrderAndComplete) {
  uint32_t previous = 0;
  bool first = true;
  for (const TypeTraits& t : AllTypes()) {
    const auto id = static_cast<uint32_t>(t.type);
    if (!first) {
      EXPECT_GT(id, previous) << t.name;
    }
    first = false;
    previous = id;
    EXPECT_NE(t.decode, nullptr) << t.name;
    EXPECT_EQ(FindType(id), &t);
    EXPECT_EQ(&Traits(t.type), &t);
  }
  EXPECT_EQ(AllTypes().size(), 16u);
}

TEST(TypesTest, EncodersExistExactlyForReferenceFormats) {
  for (const char* name : {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K",
                           "Q3_K", "Q4_K", "Q5_K", "Q6_K"}) {
    EXPECT_NE(FindTypeByName(name)->encode, nullptr) << name;
  }
  for (const char* name : {"Q8_K", "IQ4_NL", "IQ4_XS"}) {
    EXPECT_EQ(FindTypeByName(name)->encode, nullptr) << name;
  }
}

TEST(TypesTest, UnknownIdsAndNames) {
  for (uint32_t id : {4u, 5u, 9u, 16u, 19u, 21u, 22u, 29u, 31u, 1000u, 0xffffffffu}) {
    EXPECT_EQ(FindType(id), nullptr) << id;
  }
  EXPECT_EQ(FindTypeByName(""), nullptr);
  EXPECT_EQ(FindTypeByName("Q4"), nullptr);
  EXPECT_EQ(FindTypeByName("Q4_0 "), nullptr);
  ASSERT_NE(FindTypeByName("q4_k"), nullptr);
  EXPECT_EQ(FindTypeByName("q4_k")->type, TensorType::kQ4_K);
  EXPECT_EQ(FindTypeByName("iq4_xs")->type, TensorType::kIQ4_XS);
  EXPECT_EQ(FindTypeByName("bf16")->type, TensorType::kBF16);
}

TEST(TypesTest, BitsPerWeight) {
  EXPECT_DOUBLE_EQ(Traits(TensorType::kQ4_0).bits_per_weight(), 4.5);
  EXPECT_DOUBLE_EQ(Traits(TensorType::kQ4_K).bits_per_weight(), 4.5);
  EXPECT_DOUBLE_EQ(Traits(TensorType::kQ6_K).bits_per_weight(), 6.5625);
  EXPECT_DOUBLE_EQ(Traits(TensorType::kF16).bits_per_weight(), 16.0);
}

TEST(TypesTest, RowBytes) {
  EXPECT_EQ(RowBytes(TensorType::kF32, 7).value(), 28);
  EXPECT_EQ(RowBytes(TensorType::kBF16, 0).value(), 0);
  EXPECT_EQ(RowBytes(TensorType::kQ4_0, 64).value(), 36);
  EXPECT_EQ(RowBytes(TensorType::kQ6_K, 512).value(), 420);
  EXPECT_EQ(RowBytes(TensorType::kIQ4_XS, 256).value(), 136);
}

TEST(TypesTest, RowBytesErrors) {
  const Result<int64_t> partial = RowBytes(TensorType::kQ4_K, 100);
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.status().message().find("Q4_K"), std::string::npos);
  EXPECT_NE(partial.status().message().find("256"), std::string::npos);
  EXPECT_NE(partial.status().message().find("100"), std::string::npos);

  EXPECT_FALSE(RowBytes(TensorType::kF16, -2).ok());
  const int64_t max = std::numeric_limits<int64_t>::max();
  // max / 2 F32 elements need 2 * max bytes: overflow.
  const Result<int64_t> overflow = RowBytes(TensorType::kF32, max / 2);
  ASSERT_FALSE(overflow.ok());
  EXPECT_NE(overflow.status().message().find("overflow"), std::string::npos);
  // The largest Q8_0 row that fits: blocks * 34 <= max.
  const int64_t blocks = max / 34;
  EXPECT_EQ(RowBytes(TensorType::kQ8_0, blocks * 32).value(), blocks * 34);
  EXPECT_FALSE(RowBytes(TensorType::kQ8_0, (blocks + 1) * 32).ok());
}

}  // namespace
}  // namespace shrink
