// Malformed GGUF files: each must give an error naming the file, the field or tensor, the byte
// offset and what was expected; never a crash (run under ASan/UBSan).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>

#include "io/gguf.h"
#include "io/gguf_test_bytes.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

using testing::GgufBytes;

// One key, one nested array, two F32 tensors; offsets of interesting fields are recorded.
struct Small {
  GgufBytes b;
  size_t tensor_b_offset_field = 0;
};

Small MakeSmall() {
  Small s;
  GgufBytes& b = s.b;
  b.Header(2, 2);
  b.Key("general.architecture", 8).Str("llama");
  b.Key("x.nested", 9).Put<uint32_t>(9).Put<uint64_t>(1).Put<uint32_t>(4).Put<uint64_t>(2);
  b.Put<uint32_t>(1).Put<uint32_t>(2);
  b.Tensor("a", {3}, 0, 0);
  b.Tensor("b", {2, 2}, 0, 0);
  s.tensor_b_offset_field = b.size() - 8;
  // Patch b's offset to 32 (after a's 12 bytes padded).
  uint64_t off = 32;
  std::memcpy(b.bytes().data() + s.tensor_b_offset_field, &off, 8);
  b.Pad(32).Fill(12, 1).Pad(32).Fill(16, 2);
  return s;
}

// Opens `bytes` and expects an error message starting with the path and containing each of `parts`.
void ExpectError(GgufBytes& bytes, std::initializer_list<std::string_view> parts,
                 size_t cut = SIZE_MAX) {
  const std::string path = bytes.WriteTo(testing::ScratchDir() / "bad.gguf", cut);
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok()) << "opened without error";
  const std::string& m = f.status().message();
  EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;  // one line
  for (std::string_view p : parts)
    EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' in: " << m;
}

TEST(GgufBadInputTest, SmallFileIsValid) {
  Small s = MakeSmall();
  auto f = GgufFile::Open(s.b.WriteTo(testing::ScratchDir() / "ok.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
}

TEST(GgufBadInputTest, TruncatedAtEveryByteFails) {
  Small s = MakeSmall();
  const std::string path_base = (testing::ScratchDir() / "cut.gguf").string();
  for (size_t cut = 0; cut < s.b.size(); ++cut) {
    const std::string path = s.b.WriteTo(path_base, cut);
    auto f = GgufFile::Open(path);
    ASSERT_FALSE(f.ok()) << "cut at " << cut;
    const std::string& m = f.status().message();
    EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
    EXPECT_NE(m.find("offset"), std::string::npos) << m;
    EXPECT_TRUE(m.find("truncated") != std::string::npos ||
                m.find("past the end") != std::string::npos ||
                m.find("left in the file") != std::string::npos)
        << "cut at " << cut << ": " << m;
  }
}

TEST(GgufBadInputTest, TruncatedHeaderNamesField) {
  Small s = MakeSmall();
  ExpectError(s.b, {"tensor_count at offset 8", "needs 8 bytes but the file ends at 12"}, 12);
}

TEST(GgufBadInputTest, EmptyFile) {
  GgufBytes b;
  ExpectError(b, {"magic at offset 0", "needs 4 bytes but the file ends at 0"});
}

TEST(GgufBadInputTest, MissingFile) {
  auto f = GgufFile::Open("/nonexistent-shrink/x.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(),
            "cannot open /nonexistent-shrink/x.gguf: No such file or directory");
}

TEST(GgufBadInputTest, WrongMagic) {
  Small s = MakeSmall();
  s.b.bytes()[3] = 'X';
  ExpectError(s.b, {"magic at offset 0", "47 47 55 58", "expected \"GGUF\""});
}

TEST(GgufBadInputTest, WrongVersion) {
  for (uint32_t version : {0u, 1u, 4u}) {
    GgufBytes b;
    b.Header(0, 0, version);
    ExpectError(b, {fmt::format("version at offset 4: {}, expected 3 (or 2)", version)});
  }
  GgufBytes big_endian;
  big_endian.Header(0, 0, 0x03000000);
  ExpectError(big_endian, {"big-endian"});
}

TEST(GgufBadInputTest, Version2IsRead) {
  GgufBytes b;
  b.Header(0, 1, 2).Key("k", 4).Put<uint32_t>(1);
  auto f = GgufFile::Open(b.WriteTo(testing::ScratchDir() / "v2.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->version(), 2u);
}

TEST(GgufBadInputTest, TensorDataPastEnd) {
  Small s = MakeSmall();
  s.b.bytes().resize(s.b.size() - 4);  // b's 16 bytes now end 4 bytes past the file
  ExpectError(s.b, {"tensor 'b' (entry 1 at offset", "+ 16 bytes runs past the end of the file"});
}

TEST(GgufBadInputTest, TensorOffsetPastEnd) {
  Small s = MakeSmall();
  uint64_t off = 1 << 20;
  std::memcpy(s.b.bytes().data() + s.tensor_b_offset_field, &off, 8);
  ExpectError(s.b, {"tensor 'b'", "starts past the end of the file"});
}

TEST(GgufBadInputTest, UnknownTensorTypeId) {
  GgufBytes b;
  b.Header(1, 0).Tensor("w", {4}, 99, 0).Pad(32).Fill(16, 0);
  // Entry at 24: name (8 + 1), n_dims (4), one dimension (8) put the type at offset 45.
  ExpectError(b,
              {"tensor 'w' (entry 0 at offset 24): type at offset 45: unknown tensor type id 99"});
}

TEST(GgufBadInputTest, RowNotWholeBlocks) {
  GgufBytes b;
  b.Header(1, 0).Tensor("q", {48, 2}, 8, 0).Pad(32).Fill(128, 0);  // Q8_0 blocks hold 32
  ExpectError(b, {"tensor 'q' (entry 0 at offset 24)", "Q8_0 row of 48 elements",
                  "not a multiple of the block size 32"});
}

TEST(GgufBadInputTest, DimensionProductOverflows) {
  GgufBytes b;
  b.Header(1, 0).Tensor("huge", {1ll << 32, 1ll << 32}, 0, 0).Pad(32);
  // Entry at 24: name (8 + 4) + n_dims (4) + dim 0 (8) puts dim 1 at offset 48.
  ExpectError(b, {"tensor 'huge'", "dimension 1 at offset 48", "overflow int64"});
}

TEST(GgufBadInputTest, ZeroAndNegativeDimensions) {
  for (int64_t d : {0ll, -5ll}) {
    GgufBytes b;
    b.Header(1, 0).Tensor("t", {4, d}, 0, 0).Pad(32).Fill(64, 0);
    ExpectError(b, {"tensor 't'", fmt::format("dimension 1 at offset 45 is {}, expected > 0", d)});
  }
}

TEST(GgufBadInputTest, TooManyDimensions) {
  GgufBytes b;
  b.Header(1, 0).Tensor("t", {1, 1, 1, 1, 1}, 0, 0).Pad(32).Fill(32, 0);
  ExpectError(b, {"tensor 't'", "n_dims at offset 33 is 5, expected at most 4"});
}

TEST(GgufBadInputTest, NoDimensions) {
  // Found by fuzz/gguf_fuzzer.cc (fuzz/regressions/gguf/zero-dims-tensor): a tensor with n_dims 0
  // was accepted as a scalar, against the 1..4 of docs/formats.md and the writer's check.
  GgufBytes b;
  b.Header(1, 0).Tensor("t", {}, 0, 0).Pad(32).Fill(32, 0);
  ExpectError(b, {"tensor 't'", "n_dims at offset 33 is 0, expected at least 1"});
}

TEST(GgufBadInputTest, MisalignedTensorOffset) {
  Small s = MakeSmall();
  uint64_t off = 20;
  std::memcpy(s.b.bytes().data() + s.tensor_b_offset_field, &off, 8);
  ExpectError(s.b,
              {"tensor 'b'", fmt::format("data offset 20 at offset {}", s.tensor_b_offset_field),
               "not a multiple of the alignment 32"});
}

TEST(GgufBadInputTest, OverlappingTensors) {
  Small s = MakeSmall();
  uint64_t off = 0;  // b on top of a
  std::memcpy(s.b.bytes().data() + s.tensor_b_offset_field, &off, 8);
  ExpectError(s.b, {"overlaps the next tensor"});
}

TEST(GgufBadInputTest, StringLengthPastEnd) {
  GgufBytes b;
  b.Header(0, 1).Key("general.name", 8).Put<uint64_t>(1000).Fill(10, 'x');
  // Key at 24: length 8 + "general.name" 12 + type 4 puts the value's length at offset 48.
  ExpectError(b, {"metadata key 'general.name' (entry 0 at offset 24)",
                  "string value at offset 48: string length 1000 runs past the end of the file"});
}

TEST(GgufBadInputTest, KeyLengthPastEnd) {
  GgufBytes b;
  b.Header(0, 1).Put<uint64_t>(~0ull).Fill(20, 'k');
  ExpectError(b, {"metadata entry 0", "key at offset 24", "string length 18446744073709551615"});
}

TEST(GgufBadInputTest, UnknownValueType) {
  GgufBytes b;
  b.Header(0, 1).Key("k", 13).Fill(16, 0);
  ExpectError(
      b, {"metadata key 'k'", "value type at offset 33: unknown value type 13, expected 0..12"});
}

TEST(GgufBadInputTest, UnknownArrayElementType) {
  GgufBytes b;
  b.Header(0, 1).Key("k", 9).Put<uint32_t>(77).Put<uint64_t>(1).Fill(16, 0);
  ExpectError(b, {"metadata key 'k'", "array element type at offset 37: unknown value type 77"});
}

TEST(GgufBadInputTest, ArrayLengthPastEnd) {
  GgufBytes b;
  b.Header(0, 1).Key("tokens", 9).Put<uint32_t>(8).Put<uint64_t>(1ull << 40).Str("a");
  ExpectError(b, {"metadata key 'tokens'", "array length at offset 46", "1099511627776 elements"});
}

TEST(GgufBadInputTest, StringInsideArrayPastEnd) {
  GgufBytes b;
  b.Header(0, 1).Key("tokens", 9).Put<uint32_t>(8).Put<uint64_t>(2).Str("ok").Put<uint64_t>(99);
  ExpectError(b, {"metadata key 'tokens'", "array element 1", "string length 99"});
}

TEST(GgufBadInputTest, ArraysNestedTooDeep) {
  GgufBytes b;
  b.Header(0, 1).Key("deep", 9);
  for (int i = 0; i < 40; ++i) b.Put<uint32_t>(9).Put<uint64_t>(1);
  b.Put<uint32_t>(0).Put<uint64_t>(0);
  ExpectError(b, {"metadata key 'deep'", "nested deeper than 16 levels"});
}

TEST(GgufBadInputTest, BadBool) {
  GgufBytes b;
  b.Header(0, 1).Key("flag", 7).Put<uint8_t>(2);
  ExpectError(b, {"metadata key 'flag'", "bool value at offset 40: byte 2, expected 0 or 1"});
}

TEST(GgufBadInputTest, DuplicateKey) {
  GgufBytes b;
  b.Header(0, 2).Key("k", 4).Put<uint32_t>(1).Key("k", 4).Put<uint32_t>(2);
  ExpectError(b,
              {"metadata key 'k' (entry 1 at offset 41): duplicate key, first defined in entry 0"});
}

TEST(GgufBadInputTest, DuplicateTensorName) {
  GgufBytes b;
  b.Header(2, 0).Tensor("t", {8}, 0, 0).Tensor("t", {8}, 0, 32).Pad(32).Fill(64, 0);
  ExpectError(b, {"tensor 't' (entry 1", "duplicate tensor name, first defined in entry 0"});
}

TEST(GgufBadInputTest, BadAlignment) {
  GgufBytes not_pow2;
  not_pow2.Header(0, 1).Key("general.alignment", 4).Put<uint32_t>(48);
  ExpectError(not_pow2, {"general.alignment", "48 is not a power of two"});
  GgufBytes wrong_type;
  wrong_type.Header(0, 1).Key("general.alignment", 10).Put<uint64_t>(32);
  ExpectError(wrong_type, {"general.alignment", "type u64, expected u32"});
}

TEST(GgufBadInputTest, HugeCounts) {
  GgufBytes b;
  b.Header(1ull << 60, 0);
  ExpectError(b, {"tensor_count at offset 8", "cannot fit"});
  GgufBytes kv;
  kv.Header(0, 1ull << 60);
  ExpectError(kv, {"metadata_kv_count at offset 16", "cannot fit"});
}

// Every byte of the header, metadata and tensor table of a gguf-py file overwritten with a few
// values: Open either succeeds or returns a one-line error naming the file; never crashes
// (ASan/UBSan build).
TEST(GgufBadInputTest, CorruptedBytesNeverCrash) {
  const auto fixture = testing::SourcePath("tests/oracles/fixtures/gguf_py_all_types.gguf");
  std::ifstream in(fixture, std::ios::binary);
  GgufBytes original;
  original.bytes().assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  ASSERT_GT(original.size(), 1216u);
  const auto dir = testing::ScratchDir();
  int failures = 0;
  for (size_t at = 0; at < 1216; ++at) {  // 1216: the fixture's data offset (gguf-py)
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0x7f}, uint8_t{0xff}}) {
      GgufBytes b = original;
      if (b.bytes()[at] == v) continue;
      b.bytes()[at] = v;
      const std::string path = b.WriteTo(dir / "corrupt.gguf");
      auto f = GgufFile::Open(path);
      if (f.ok()) continue;
      ++failures;
      const std::string& m = f.status().message();
      ASSERT_EQ(m.rfind(path + ": ", 0), 0u) << "byte " << at << ": " << m;
      ASSERT_EQ(m.find('\n'), std::string::npos) << "byte " << at << ": " << m;
    }
  }
  EXPECT_GT(failures, 100);  // most header bytes matter
}

}  // namespace
}  // namespace shrink
