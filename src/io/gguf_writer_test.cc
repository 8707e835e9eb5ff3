#include "io/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "io/gguf.h"
#include "io/gguf_json_test_util.h"
#include "io/gguf_test_bytes.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

using nlohmann::json;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool GgufPyAvailable() {
  return std::system("python3 -c 'import gguf, numpy' >/dev/null 2>&1") == 0;
}

// Runs the gguf-py oracle's "check" on `gguf`; returns its exit status and output.
int RunOracleCheck(const std::string& gguf, const std::string& expected_json, std::string* output) {
  const std::string log = gguf + ".oracle.log";
  const std::string cmd = fmt::format(
      "python3 {} check {} {} >{} 2>&1",
      testing::SourcePath("tests/oracles/gguf_py_oracle.py").string(), gguf, expected_json, log);
  const int rc = std::system(cmd.c_str());
  const auto bytes = ReadAll(log);
  output->assign(bytes.begin(), bytes.end());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

GgufArray Arr(GgufValueType type, std::vector<GgufValue> elements) {
  return GgufArray{type, std::move(elements)};
}

// Every value type, extreme values, empty and nested arrays, and a non-default alignment.
std::vector<std::pair<std::string, GgufValue>> AllTypesMetadata() {
  using V = GgufValue;
  using T = GgufValueType;
  return {
      {"general.architecture", V::String("llama")},
      {"general.alignment", V::U32(64)},
      {"t.u8", V::U8(255)},
      {"t.i8", V::I8(-128)},
      {"t.u16", V::U16(65535)},
      {"t.i16", V::I16(-32768)},
      {"t.u32", V::U32(4294967295u)},
      {"t.i32", V::I32(-2147483647 - 1)},
      {"t.f32", V::F32(0.1f)},
      {"t.bool", V::Bool(false)},
      {"t.string", V::String("héllo\nworld")},
      {"t.u64", V::U64(18446744073709551615ull)},
      {"t.i64", V::I64(-9223372036854775807ll - 1)},
      {"t.f64", V::F64(1.0 / 3.0)},
      {"a.empty", V::Array(Arr(T::kFloat32, {}))},
      {"a.u8", V::Array(Arr(T::kUint8, {V::U8(1), V::U8(2)}))},
      {"a.i16", V::Array(Arr(T::kInt16, {V::I16(-3)}))},
      {"a.u64", V::Array(Arr(T::kUint64, {V::U64(1), V::U64(1ull << 63)}))},
      {"a.f64", V::Array(Arr(T::kFloat64, {V::F64(-2.5)}))},
      {"a.bool", V::Array(Arr(T::kBool, {V::Bool(true), V::Bool(false)}))},
      {"a.string", V::Array(Arr(T::kString, {V::String(""), V::String("▁tok")}))},
      {"n.nested",
       V::Array(Arr(T::kArray,
                    {V::Array(Arr(T::kInt64, {V::I64(-1), V::I64(2)})),
                     V::Array(Arr(T::kArray, {V::Array(Arr(T::kString, {V::String("z")}))}))}))},
  };
}

struct OwnedTensor {
  std::string name;
  std::vector<int64_t> shape;
  uint32_t type_id;
  std::vector<uint8_t> bytes;
};

std::vector<OwnedTensor> SomeTensors() {
  std::vector<OwnedTensor> t = {{"w", {4, 3}, 0, std::vector<uint8_t>(48)},
                                {"b", {5}, 1, std::vector<uint8_t>(10)},
                                {"q", {64, 1}, 8, std::vector<uint8_t>(68)}};
  uint8_t x = 1;
  for (auto& tensor : t) {
    for (uint8_t& byte : tensor.bytes) byte = x = static_cast<uint8_t>(x * 37 + 11);
  }
  // Keep the F32 and F16 values finite, so numpy comparisons are not confused by NaN payloads.
  for (size_t i = 3; i < 48; i += 4) t[0].bytes[i] = 0x3f;
  for (size_t i = 1; i < 10; i += 2) t[1].bytes[i] = 0x3c;
  return t;
}

std::vector<GgufTensorToWrite> Views(const std::vector<OwnedTensor>& tensors) {
  std::vector<GgufTensorToWrite> out;
  for (const auto& t : tensors) out.push_back({t.name, t.shape, t.type_id, t.bytes});
  return out;
}

TEST(GgufWriterTest, RoundTripsThroughOurReader) {
  const auto metadata = AllTypesMetadata();
  const auto tensors = SomeTensors();
  const std::string path = (testing::ScratchDir() / "all.gguf").string();
  ASSERT_TRUE(WriteGguf(path, metadata, Views(tensors)).ok());
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(testing::MetadataToJson(f->metadata()), testing::MetadataToJson(metadata));
  ASSERT_EQ(f->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.shape, tensors[i].shape);
    EXPECT_EQ(t.type_id, tensors[i].type_id);
    EXPECT_EQ(t.offset % 64, 0u);
    EXPECT_TRUE(
        std::equal(t.data.begin(), t.data.end(), tensors[i].bytes.begin(), tensors[i].bytes.end()));
  }
  EXPECT_EQ(f->file_size() % 64, 0u);  // padded after the last tensor too
}

TEST(GgufWriterTest, IsDeterministic) {
  const auto metadata = AllTypesMetadata();
  const auto tensors = SomeTensors();
  const std::string a = (testing::ScratchDir() / "a.gguf").string();
  const std::string b = (testing::ScratchDir() / "b.gguf").string();
  ASSERT_TRUE(WriteGguf(a, metadata, Views(tensors)).ok());
  ASSERT_TRUE(WriteGguf(b, metadata, Views(tensors)).ok());
  EXPECT_EQ(ReadAll(a), ReadAll(b));
}

TEST(GgufWriterTest, GgufPyReadsWhatWeWrite) {
  if (!GgufPyAvailable()) GTEST_SKIP() << "skipped: python3 with gguf and numpy is not installed";
  const auto metadata = AllTypesMetadata();
  const auto tensors = SomeTensors();
  const auto dir = testing::ScratchDir();
  const std::string path = (dir / "for_gguf_py.gguf").string();
  ASSERT_TRUE(WriteGguf(path, metadata, Views(tensors)).ok());
  json expected = {{"alignment", 64}, {"metadata", testing::MetadataToJson(metadata)}};
  expected["tensors"] = json::array();
  for (const auto& t : tensors) {
    expected["tensors"].push_back({{"name", t.name},
                                   {"shape", t.shape},
                                   {"type_id", t.type_id},
                                   {"data_hex", testing::Hex(t.bytes)}});
  }
  const std::string json_path = (dir / "expected.json").string();
  std::ofstream(json_path) << expected.dump(1);
  std::string output;
  EXPECT_EQ(RunOracleCheck(path, json_path, &output), 0) << output;
}

// The fixture was written by gguf-py's GGUFWriter (tests/oracles/gguf_py_oracle.py write); the JSON
// beside it says what the script put in.
TEST(GgufWriterTest, ReadsGgufPyFixtureAndRewritesItByteIdentically) {
  const std::string fixture = testing::SourcePath("tests/oracles/fixtures/gguf_py_all_types.gguf");
  std::ifstream json_in(testing::SourcePath("tests/oracles/fixtures/gguf_py_all_types.json"));
  const json expected = json::parse(json_in);
  auto f = GgufFile::Open(fixture);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(testing::MetadataToJson(f->metadata()), expected["metadata"]);
  ASSERT_EQ(f->tensors().size(), expected["tensors"].size());
  for (size_t i = 0; i < f->tensors().size(); ++i) {
    const GgufTensorInfo& t = f->tensors()[i];
    const json& want = expected["tensors"][i];
    EXPECT_EQ(t.name, want["name"]);
    EXPECT_EQ(json(t.shape), want["shape"]);
    EXPECT_EQ(t.type_id, want["type_id"]);
    EXPECT_EQ(testing::Hex(t.data), want["data_hex"]) << t.name;
  }
  const std::string copy = (testing::ScratchDir() / "rewritten.gguf").string();
  ASSERT_TRUE(WriteGguf(copy, f->metadata(), TensorsToWrite(*f)).ok());
  EXPECT_EQ(ReadAll(copy), ReadAll(fixture));
}

TEST(GgufWriterTest, RejectsBadInputAndLeavesNoFile) {
  const auto dir = testing::ScratchDir();
  const std::string path = (dir / "bad.gguf").string();
  using V = GgufValue;
  std::vector<std::pair<std::string, GgufValue>> dup = {{"k", V::U8(1)}, {"k", V::U8(2)}};
  Status s = WriteGguf(path, dup, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("duplicate metadata key 'k'"), std::string::npos) << s.message();
  std::vector<std::pair<std::string, GgufValue>> mixed = {
      {"a", V::Array(GgufArray{GgufValueType::kUint8, {V::U8(1), V::I32(2)}})}};
  s = WriteGguf(path, mixed, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("array element 1 has type i32, expected the array's element type u8"),
            std::string::npos)
      << s.message();
  GgufValue wide = V::U8(1);
  wide.data = uint64_t{300};
  std::vector<std::pair<std::string, GgufValue>> overflow = {{"w", wide}};
  s = WriteGguf(path, overflow, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("value 300 does not fit type u8"), std::string::npos) << s.message();
  std::vector<std::pair<std::string, GgufValue>> align = {{"general.alignment", V::U32(48)}};
  EXPECT_FALSE(WriteGguf(path, align, {}).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  // No temp files left behind either.
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace shrink
