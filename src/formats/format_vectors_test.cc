// Golden-vector tests: every decoder but Q8_K's bit-exact with gguf-py's dequantize (Q8_K's with a
// numpy formula, see below), every reference encoder byte-identical with gguf-py's quantize or
// (where gguf-py has none) with llama.cpp's ggml, and every importance-weighted encoder
// byte-identical with ggml given the same imatrix row.
//
// The fixtures in tests/data/formats/{decode,encode}_<TYPE>.bin were written by
// tests/oracles/make_format_vectors.py (fixed numpy seed) from gguf.quants.dequantize/quantize, an
// implementation independent of ours (Q8_K, which gguf-py cannot decode, uses that script's numpy
// formula); encode_<K-quant or IQ4>.bin and encode_weighted_<TYPE>.bin by
// tests/oracles/make_ggml_quant_vectors.py from ggml_quantize_chunk, the function llama-quantize
// calls. Each file holds named cases: random payloads with sensible F16 scales,
// zero/-0/subnormal/ max scales, and for encoders normal/uniform data, zero blocks, huge outliers
// and exact rounding ties. Comparisons are on bits: no tolerance, because decode is specified to be
// exact (docs/numerics.md).
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/types.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

struct VectorCase {
  std::string name;
  uint64_t first_element;
  uint64_t n_elements;
};

struct VectorFile {
  uint32_t type_id = 0;
  uint32_t direction = 0;  // 0 = decode, 1 = encode, 2 = weighted encode (values, then importance)
  std::vector<VectorCase> cases;
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

template <typename T>
T Read(const std::vector<char>& data, size_t& pos) {
  T v{};
  if (pos + sizeof(T) > data.size()) throw std::runtime_error("fixture truncated");
  std::memcpy(&v, data.data() + pos, sizeof(T));
  pos += sizeof(T);
  return v;
}

// Parses one fixture (format documented in make_format_vectors.py); throws on a malformed file.
VectorFile LoadVectors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  const std::vector<char> data((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
  size_t pos = 0;
  if (data.size() < 8 || std::memcmp(data.data(), "SHRKFV01", 8) != 0) {
    throw std::runtime_error(path.string() + ": bad magic");
  }
  pos = 8;
  VectorFile f;
  f.type_id = Read<uint32_t>(data, pos);
  f.direction = Read<uint32_t>(data, pos);
  const auto n_elements = Read<uint64_t>(data, pos);
  const auto n_bytes = Read<uint64_t>(data, pos);
  const auto n_cases = Read<uint32_t>(data, pos);
  for (uint32_t i = 0; i < n_cases; ++i) {
    char name[24];
    for (char& c : name) c = Read<char>(data, pos);
    VectorCase vc{std::string(name, strnlen(name, sizeof(name))), 0, 0};
    vc.first_element = Read<uint64_t>(data, pos);
    vc.n_elements = Read<uint64_t>(data, pos);
    f.cases.push_back(vc);
  }
  if (data.size() != pos + n_bytes + 4 * n_elements) {
    throw std::runtime_error(path.string() + ": size does not match its header");
  }
  f.bytes.assign(data.begin() + pos, data.begin() + pos + n_bytes);
  f.values.resize(n_elements);
  std::memcpy(f.values.data(), data.data() + pos + n_bytes, 4 * n_elements);
  return f;
}

std::string CaseOf(const VectorFile& f, uint64_t element) {
  for (const VectorCase& c : f.cases) {
    if (element >= c.first_element && element < c.first_element + c.n_elements) return c.name;
  }
  return "?";
}

std::filesystem::path FixturePath(std::string_view direction, std::string_view type) {
  return testing::SourcePath("tests/data/formats/" + std::string(direction) + "_" +
                             std::string(type) + ".bin");
}

class FormatVectorsTest : public ::testing::TestWithParam<TypeTraits> {};

TEST_P(FormatVectorsTest, DecodeIsBitExactWithGgufPy) {
  const TypeTraits& t = GetParam();
  const VectorFile f = LoadVectors(FixturePath("decode", t.name));
  ASSERT_EQ(f.type_id, static_cast<uint32_t>(t.type));
  ASSERT_EQ(f.direction, 0u);
  const auto n = static_cast<int64_t>(f.values.size());
  ASSERT_EQ(RowBytes(t.type, n).value(), static_cast<int64_t>(f.bytes.size()));
  std::vector<float> got(f.values.size());
  t.decode(f.bytes.data(), got.data(), n);
  int mismatches = 0;
  for (int64_t i = 0; i < n && mismatches < 10; ++i) {
    const uint32_t want = std::bit_cast<uint32_t>(f.values[i]);
    const uint32_t have = std::bit_cast<uint32_t>(got[i]);
    if (want != have) {
      ++mismatches;
      ADD_FAILURE() << t.name << " element " << i << " (block " << i / t.block_elements << ", case "
                    << CaseOf(f, i) << "): gguf-py " << f.values[i] << " (0x" << std::hex << want
                    << "), ours " << got[i] << " (0x" << have << std::dec << ")";
    }
  }
}

// Reports the first bytes where `got` differs from the fixture's, with block and case.
void ExpectSameBytes(const TypeTraits& t, const VectorFile& f, const std::vector<uint8_t>& got) {
  int mismatches = 0;
  for (size_t i = 0; i < got.size() && mismatches < 10; ++i) {
    if (got[i] != f.bytes[i]) {
      ++mismatches;
      const int64_t block = static_cast<int64_t>(i) / t.block_bytes;
      ADD_FAILURE() << t.name << " byte " << i << " (block " << block << ", offset "
                    << i % t.block_bytes << ", case " << CaseOf(f, block * t.block_elements)
                    << "): oracle 0x" << std::hex << int{f.bytes[i]} << ", ours 0x" << int{got[i]}
                    << std::dec;
    }
  }
}

class EncodeVectorsTest : public ::testing::TestWithParam<TypeTraits> {};

TEST_P(EncodeVectorsTest, EncodeIsByteIdenticalWithTheOracle) {
  const TypeTraits& t = GetParam();
  const VectorFile f = LoadVectors(FixturePath("encode", t.name));
  ASSERT_EQ(f.type_id, static_cast<uint32_t>(t.type));
  ASSERT_EQ(f.direction, 1u);
  const auto n = static_cast<int64_t>(f.values.size());
  ASSERT_EQ(RowBytes(t.type, n).value(), static_cast<int64_t>(f.bytes.size()));
  std::vector<uint8_t> got(f.bytes.size(), 0xEE);
  t.encode(f.values.data(), got.data(), n);
  ExpectSameBytes(t, f, got);
}

class EncodeWeightedVectorsTest : public ::testing::TestWithParam<TypeTraits> {};

TEST_P(EncodeWeightedVectorsTest, EncodeWeightedIsByteIdenticalWithGgml) {
  const TypeTraits& t = GetParam();
  const VectorFile f = LoadVectors(FixturePath("encode_weighted", t.name));
  ASSERT_EQ(f.type_id, static_cast<uint32_t>(t.type));
  ASSERT_EQ(f.direction, 2u);
  const auto n = static_cast<int64_t>(f.values.size() / 2);
  ASSERT_EQ(RowBytes(t.type, n).value(), static_cast<int64_t>(f.bytes.size()));
  // encode_weighted takes one row at a time (its contract: some types weigh by the row's mean
  // square). The fixture's rows are kWeightedRow long (ROW in make_ggml_quant_vectors.py), and its
  // importance is one imatrix row repeated per row: check that before relying on it.
  constexpr int64_t kWeightedRow = 512;
  ASSERT_EQ(n % kWeightedRow, 0);
  const float* importance = f.values.data() + n;
  for (int64_t i = kWeightedRow; i < n; ++i) {
    ASSERT_EQ(importance[i], importance[i % kWeightedRow]) << "importance is not one row repeated";
  }
  const int64_t row_bytes = RowBytes(t.type, kWeightedRow).value();
  std::vector<uint8_t> got(f.bytes.size(), 0xEE);
  for (int64_t row = 0; row < n / kWeightedRow; ++row) {
    t.encode_weighted(f.values.data() + row * kWeightedRow, got.data() + row * row_bytes,
                      kWeightedRow, importance);
  }
  ExpectSameBytes(t, f, got);
}

// Types without an encoder must not have an encode fixture (it would go untested), and every
// weighted encoder must have its fixture.
TEST(FormatFixturesTest, EveryEncodeFixtureHasAnEncoder) {
  for (const TypeTraits& t : AllTypes()) {
    if (t.encode == nullptr) {
      EXPECT_FALSE(std::filesystem::exists(FixturePath("encode", t.name))) << t.name;
    }
    EXPECT_EQ(t.encode_weighted != nullptr,
              std::filesystem::exists(FixturePath("encode_weighted", t.name)))
        << t.name;
  }
}

// Every encoder except F32's (a memcpy) has a fixture.
std::vector<TypeTraits> EncodableTypes() {
  std::vector<TypeTraits> types;
  for (const TypeTraits& t : AllTypes()) {
    if (t.encode != nullptr && t.type != TensorType::kF32) types.push_back(t);
  }
  return types;
}

std::vector<TypeTraits> WeightedEncodableTypes() {
  std::vector<TypeTraits> types;
  for (const TypeTraits& t : AllTypes()) {
    if (t.encode_weighted != nullptr) types.push_back(t);
  }
  return types;
}

INSTANTIATE_TEST_SUITE_P(Encodable, EncodeVectorsTest, ::testing::ValuesIn(EncodableTypes()),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(WeightedEncodable, EncodeWeightedVectorsTest,
                         ::testing::ValuesIn(WeightedEncodableTypes()),
                         [](const auto& info) { return std::string(info.param.name); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EncodeWeightedVectorsTest);

INSTANTIATE_TEST_SUITE_P(AllTypes, FormatVectorsTest,
                         ::testing::ValuesIn(AllTypes().begin(), AllTypes().end()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace shrink
