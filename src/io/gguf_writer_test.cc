#include "io/gguf_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
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
  return GgufArray::FromValues(type, elements).value();
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

TEST(GgufWriterTest, FileSizeIsWhatTheWriterWrites) {
  const auto metadata = AllTypesMetadata();  // alignment 64: padding after every tensor
  const auto tensors = SomeTensors();
  const std::string path = (testing::ScratchDir() / "sized.gguf").string();
  ASSERT_TRUE(WriteGguf(path, metadata, Views(tensors)).ok());
  std::vector<GgufTensorDecl> decls;
  for (const auto& t : tensors) decls.push_back({t.name, t.shape, t.type_id});
  auto size = GgufFileSize(metadata, decls);
  ASSERT_TRUE(size.ok()) << size.status().message();
  EXPECT_EQ(*size, std::filesystem::file_size(path));
  decls[2].shape = {33, 1};  // not whole Q8_0 blocks: the writer's error
  EXPECT_FALSE(GgufFileSize(metadata, decls).ok());
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
  // An array holds only elements of its type (a mixed one cannot be built, so never written).
  const std::vector<GgufValue> mixed = {V::U8(1), V::I32(2)};
  auto mixed_array = GgufArray::FromValues(GgufValueType::kUint8, mixed);
  ASSERT_FALSE(mixed_array.ok());
  EXPECT_NE(mixed_array.status().message().find(
                "array element 1 has type i32, expected the array's element type u8"),
            std::string::npos)
      << mixed_array.status().message();
  GgufValue wide_element = V::U8(1);
  wide_element.data = uint64_t{256};
  auto wide_array = GgufArray::FromValues(GgufValueType::kUint8, std::span(&wide_element, 1));
  ASSERT_FALSE(wide_array.ok());
  EXPECT_EQ(wide_array.status().message(), "array element 0: value 256 does not fit type u8");
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

// Streaming: the same file as WriteGguf whether the producer appends in pieces or in place, each
// tensor asked for once, in order, with its declared size and type.
TEST(GgufWriterStreamingTest, MatchesWholeFileWriteInPiecesAndInPlace) {
  const auto metadata = AllTypesMetadata();
  const auto tensors = SomeTensors();
  const auto dir = testing::ScratchDir();
  const std::string whole = (dir / "whole.gguf").string();
  ASSERT_TRUE(WriteGguf(whole, metadata, Views(tensors)).ok());

  std::vector<GgufTensorDecl> decls;
  for (const auto& t : tensors) decls.push_back({t.name, t.shape, t.type_id});
  const std::string streamed = (dir / "streamed.gguf").string();
  std::vector<size_t> asked;
  Status s =
      WriteGgufStreaming(streamed, metadata, decls, [&](size_t i, GgufTensorSink& sink) -> Status {
        asked.push_back(i);
        EXPECT_EQ(sink.index(), i);
        EXPECT_EQ(sink.tensor().name, tensors[i].name);
        EXPECT_EQ(sink.size(), tensors[i].bytes.size());
        EXPECT_EQ(static_cast<uint32_t>(sink.type().type), tensors[i].type_id);
        // Alternate in-place and copied pieces of 7 bytes, so both paths and their order count.
        const std::span<const uint8_t> all = tensors[i].bytes;
        for (size_t at = 0, k = 0; at < all.size(); at += 7, ++k) {
          const auto piece = all.subspan(at, std::min<size_t>(7, all.size() - at));
          if (k % 2 == 0) {
            SHRINK_ASSIGN_OR_RETURN(std::span<uint8_t> out, sink.AppendInPlace(piece.size()));
            std::copy(piece.begin(), piece.end(), out.begin());
          } else {
            SHRINK_RETURN_IF_ERROR(sink.Append(piece));
          }
          EXPECT_EQ(sink.written(), at + piece.size());
        }
        return Status::Ok();
      });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(asked, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(ReadAll(streamed), ReadAll(whole));
}

// A failed write leaves whatever was at the path before, and no temp file.
void ExpectUntouched(const std::filesystem::path& dir, const std::string& path) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"out.gguf"});
  const auto bytes = ReadAll(path);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "previous contents");
}

struct StreamCase {
  std::filesystem::path dir = testing::ScratchDir();
  std::string path = (dir / "out.gguf").string();
  std::vector<OwnedTensor> tensors = SomeTensors();
  std::vector<GgufTensorDecl> decls;
  StreamCase() {
    std::ofstream(path) << "previous contents";
    for (const auto& t : tensors) decls.push_back({t.name, t.shape, t.type_id});
  }
  Status Write(const GgufTensorProducer& produce) {
    return WriteGgufStreaming(path, AllTypesMetadata(), decls, produce);
  }
};

TEST(GgufWriterStreamingTest, ProducerErrorAbortsCleanly) {
  StreamCase c;
  std::vector<size_t> asked;
  Status s = c.Write([&](size_t i, GgufTensorSink& sink) -> Status {
    asked.push_back(i);
    if (i == 1) {
      SHRINK_RETURN_IF_ERROR(sink.Append(std::span(c.tensors[i].bytes).first(4)));
      return Status::Error("quantizer ran out of patience");
    }
    return sink.Append(c.tensors[i].bytes);
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "writing " + c.path + ": tensor 'b': quantizer ran out of patience");
  EXPECT_EQ(asked, (std::vector<size_t>{0, 1}));  // nothing asked after the error
  ExpectUntouched(c.dir, c.path);
}

TEST(GgufWriterStreamingTest, TooFewBytesNamesTensorAndCounts) {
  StreamCase c;
  Status s = c.Write([&](size_t i, GgufTensorSink& sink) {
    const std::span<const uint8_t> all = c.tensors[i].bytes;
    return sink.Append(i == 1 ? all.first(8) : all);
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "writing " + c.path +
                             ": tensor 'b': 8 bytes produced, expected exactly 10 (type F16, "
                             "shape [5])");
  ExpectUntouched(c.dir, c.path);
}

TEST(GgufWriterStreamingTest, TooManyBytesAreRefusedEvenIfTheProducerIgnoresIt) {
  for (bool in_place : {false, true}) {
    StreamCase c;
    Status s = c.Write([&](size_t i, GgufTensorSink& sink) {
      SHRINK_RETURN_IF_ERROR(sink.Append(c.tensors[i].bytes));
      if (i == 2) {
        const uint8_t extra[3] = {1, 2, 3};
        Status refused = in_place ? sink.AppendInPlace(3).status() : sink.Append(extra);
        EXPECT_EQ(refused.ToString(),
                  "71 bytes produced, expected exactly 68 (type Q8_0, shape [64, 1])");
        EXPECT_EQ(sink.written(), 68u);
      }
      return Status::Ok();  // ignores the refusal
    });
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.message(), "writing " + c.path +
                               ": tensor 'q': 71 bytes produced, expected exactly 68 (type Q8_0, "
                               "shape [64, 1])");
    ExpectUntouched(c.dir, c.path);
  }
}

TEST(GgufWriterStreamingTest, RejectsUnknownTypesAndPartialBlocksBeforeCreatingTheFile) {
  StreamCase c;
  int calls = 0;
  auto count = [&](size_t, GgufTensorSink&) {
    ++calls;
    return Status::Ok();
  };
  c.decls[1].type_id = 77;
  Status s = c.Write(count);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "writing " + c.path +
                             ": tensor 'b': unknown tensor type id 77, expected one of the ids in "
                             "formats/types.h");
  c.decls[1].type_id = 8;  // Q8_0: 5 elements are not a whole block of 32
  s = c.Write(count);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(
      s.message().find("tensor 'b': Q8_0 row of 5 elements: not a multiple of the block size 32"),
      std::string::npos)
      << s.message();
  EXPECT_EQ(calls, 0);
  ExpectUntouched(c.dir, c.path);
}

TEST(GgufWriterTest, WholeTensorOfWrongSizeNamesIt) {
  StreamCase c;
  auto views = Views(c.tensors);
  views[0].data = views[0].data.first(44);
  Status s = WriteGguf(c.path, AllTypesMetadata(), views);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "writing " + c.path +
                             ": tensor 'w': 44 bytes produced, expected exactly 48 (type F32, "
                             "shape [4, 3])");
  ExpectUntouched(c.dir, c.path);
}

}  // namespace
}  // namespace shrink
