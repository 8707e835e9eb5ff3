// Importance-matrix files: llama-imatrix's own files (tests/oracles/fixtures/imatrix/, made by
// tests/oracles/make_imatrix_fixtures.sh) read back, written again byte for byte in both formats,
// and malformed files rejected with one-line errors.
#include "io/imatrix_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <span>

#include "io/gguf_test_bytes.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

const std::string kFixtures = "tests/oracles/fixtures/imatrix/";

std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteBytes(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

ImatrixData ReadFixture(const std::string& name) {
  Result<ImatrixData> data = ReadImatrixFile(testing::SourcePath(kFixtures + name));
  EXPECT_TRUE(data.ok()) << data.status().message();
  return data.ok() ? std::move(data).value() : ImatrixData{};
}

// The stories260K model: 5 layers of 7 linears, rows of 64 (d_model) except ffn_down's 172.
void ExpectStoriesShape(const ImatrixData& d) {
  EXPECT_EQ(d.tensors.size(), 35u);
  EXPECT_EQ(d.chunk_count, 4);
  EXPECT_EQ(d.datasets, std::vector<std::string>{"tinyshakespeare-40k.txt"});
  for (const auto& [name, t] : d.tensors) {
    EXPECT_EQ(name.rfind("blk.", 0), 0u) << name;  // llama-imatrix skips output.weight by default
    EXPECT_EQ(t.columns, name.find("ffn_down") != std::string::npos ? 172 : 64) << name;
    EXPECT_EQ(t.sums.size(), static_cast<size_t>(t.columns)) << name;
    ASSERT_EQ(t.counts.size(), 1u) << name;
  }
}

TEST(ImatrixFileTest, ReadsLlamaImatrixGguf) {
  const ImatrixData d = ReadFixture("stories260k.imatrix.gguf");
  EXPECT_EQ(d.format, ImatrixFormat::kGguf);
  ExpectStoriesShape(d);
  EXPECT_EQ(d.chunk_size, 128);
  // 4 chunks of 128 tokens, every row seen by every linear.
  for (const auto& [name, t] : d.tensors) EXPECT_EQ(t.counts[0], 512) << name;
  // Q, K and V read the same normed input.
  EXPECT_EQ(d.tensors.at("blk.2.attn_q.weight").sums, d.tensors.at("blk.2.attn_v.weight").sums);
}

TEST(ImatrixFileTest, ReadsLlamaImatrixDat) {
  const ImatrixData d = ReadFixture("stories260k.imatrix.dat");
  EXPECT_EQ(d.format, ImatrixFormat::kDat);
  ExpectStoriesShape(d);
  EXPECT_EQ(d.chunk_size, 0);  // not in the format
  // ncall = ceil(512 rows / 128 per chunk).
  for (const auto& [name, t] : d.tensors) EXPECT_EQ(t.counts[0], 4) << name;
}

// Both files hold the same statistics: the .dat stores (sum / 512) · 4 in F32, so its mean is two
// F32 roundings (a division and a multiplication by 4, exact) plus our division away from the
// GGUF's sum / 512 (exact: 512 is a power of two): within 2 ulp, 2.4e-7 relative.
TEST(ImatrixFileTest, BothFormatsGiveTheSameMeans) {
  const ImatrixData gguf = ReadFixture("stories260k.imatrix.gguf");
  const ImatrixData dat = ReadFixture("stories260k.imatrix.dat");
  ASSERT_EQ(gguf.tensors.size(), dat.tensors.size());
  for (const auto& [name, t] : gguf.tensors) {
    ASSERT_TRUE(dat.tensors.contains(name)) << name;
    const std::vector<float> a = MeanSquares(gguf.format, t);
    const std::vector<float> b = MeanSquares(dat.format, dat.tensors.at(name));
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) {
      EXPECT_GT(a[j], 0.0f) << name << " column " << j;
      EXPECT_NEAR(a[j], b[j], 2.4e-7 * a[j]) << name << " column " << j;
    }
  }
}

// Our writers produce llama-imatrix's bytes: the GGUF from what we read of its GGUF, and the .dat
// from the same statistics (Σx², counts and chunk size), computed as its legacy writer does.
TEST(ImatrixFileTest, WritesLlamaImatrixBytesInBothFormats) {
  const ImatrixData d = ReadFixture("stories260k.imatrix.gguf");
  const std::filesystem::path dir = testing::ScratchDir();
  ASSERT_TRUE(WriteImatrixGguf(dir / "ours.gguf", d).ok());
  EXPECT_EQ(ReadBytes(dir / "ours.gguf"),
            ReadBytes(testing::SourcePath(kFixtures + "stories260k.imatrix.gguf")));
  ASSERT_TRUE(WriteImatrixDat(dir / "ours.dat", d).ok());
  EXPECT_EQ(ReadBytes(dir / "ours.dat"),
            ReadBytes(testing::SourcePath(kFixtures + "stories260k.imatrix.dat")));
}

TEST(ImatrixFileTest, DatRoundTripsExactly) {
  const ImatrixData d = ReadFixture("stories260k.imatrix.dat");
  const std::filesystem::path dir = testing::ScratchDir();
  ASSERT_TRUE(WriteImatrixFile(dir / "again.dat", d, ImatrixFormat::kDat).ok());
  EXPECT_EQ(ReadBytes(dir / "again.dat"),
            ReadBytes(testing::SourcePath(kFixtures + "stories260k.imatrix.dat")));
}

// Several matrices per tensor (an MoE expert stack): [C_in, n_mat] sums and [1, n_mat] counts.
TEST(ImatrixFileTest, StackedMatricesRoundTrip) {
  ImatrixData d;
  d.datasets = {"a.txt", "b.txt"};
  d.chunk_count = 3;
  d.chunk_size = 16;
  d.tensors["blk.0.ffn_up_exps.weight"] = {2, {1, 2, 3, 4, 5, 6}, {8, 0, 40}};
  d.tensors["blk.0.attn_q.weight"] = {3, {0.5f, 0, 2}, {48}};
  const std::filesystem::path dir = testing::ScratchDir();
  ASSERT_TRUE(WriteImatrixGguf(dir / "m.gguf", d).ok());
  Result<ImatrixData> back = ReadImatrixFile(dir / "m.gguf");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->datasets, d.datasets);
  EXPECT_EQ(back->chunk_count, 3);
  EXPECT_EQ(back->chunk_size, 16);
  ASSERT_EQ(back->tensors.size(), 2u);
  for (const auto& [name, t] : d.tensors) {
    EXPECT_EQ(back->tensors.at(name).columns, t.columns);
    EXPECT_EQ(back->tensors.at(name).sums, t.sums);
    EXPECT_EQ(back->tensors.at(name).counts, t.counts);
  }
  // Means: sums / count, 1s for the matrix that saw no rows.
  EXPECT_EQ(MeanSquares(ImatrixFormat::kGguf, d.tensors.at("blk.0.ffn_up_exps.weight")),
            (std::vector<float>{1.0f / 8, 2.0f / 8, 1, 1, 5.0f / 40, 6.0f / 40}));

  // Legacy: ncall = ceil(40 / 16) = 3; values (sum / count) · 3, (1 / 1) · 3 with no rows.
  ASSERT_TRUE(WriteImatrixDat(dir / "m.dat", d).ok());
  Result<ImatrixData> dat = ReadImatrixFile(dir / "m.dat");
  ASSERT_TRUE(dat.ok()) << dat.status().message();
  EXPECT_EQ(dat->datasets, std::vector<std::string>{"b.txt"});  // the last one
  EXPECT_EQ(dat->chunk_count, 3);
  const ImatrixTensor& e = dat->tensors.at("blk.0.ffn_up_exps.weight");
  EXPECT_EQ(e.counts, std::vector<int64_t>{3});
  EXPECT_EQ(e.sums,
            (std::vector<float>{1.0f / 8 * 3, 2.0f / 8 * 3, 3, 3, 5.0f / 40 * 3, 6.0f / 40 * 3}));
}

TEST(ImatrixFileTest, LegacyZeroCallsKeepsValues) {
  const ImatrixTensor t{2, {3, 5}, {0}};
  EXPECT_EQ(MeanSquares(ImatrixFormat::kDat, t), (std::vector<float>{3, 5}));
  EXPECT_EQ(MeanSquares(ImatrixFormat::kGguf, t), (std::vector<float>{1, 1}));
}

TEST(ImatrixFileTest, WriterErrors) {
  const std::filesystem::path dir = testing::ScratchDir();
  ImatrixData d;
  d.tensors["w"] = {1, {1}, {1}};
  d.chunk_size = 0;
  Status s = WriteImatrixDat(dir / "x.dat", d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("chunk size is 0"), std::string::npos) << s.message();
  d.tensors.clear();
  d.tensors[std::string(60, 'n')] = {1, {1}, {1}};
  s = WriteImatrixGguf(dir / "x.gguf", d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ggml allows at most 63"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
  // No tensor saw rows: a .dat of no entries, which no reader takes (a fuzzer finding).
  d.tensors.clear();
  d.tensors["w"] = {1, {1}, {0}};
  d.chunk_size = 4;
  s = WriteImatrixDat(dir / "x.dat", d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no tensor saw any rows"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "x.dat"));
}

// ---- malformed files ----------------------------------------------------------------------------

void ExpectError(std::span<const uint8_t> bytes, std::initializer_list<std::string_view> parts) {
  const std::string path = testing::ScratchDir() / "bad.imatrix";
  WriteBytes(path, bytes);
  Result<ImatrixData> d = ReadImatrixFile(path);
  ASSERT_FALSE(d.ok()) << "read without error: " << *parts.begin();
  const std::string& m = d.status().message();
  EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  for (std::string_view p : parts) EXPECT_NE(m.find(p), std::string::npos) << p << " in: " << m;
}

// A .dat file field by field: entries of (name, ncall, values), then the given trailer bytes.
struct Dat {
  std::vector<uint8_t> b;
  Dat& I32(int32_t v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
    return *this;
  }
  Dat& F32(float v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
    return *this;
  }
  Dat& Name(std::string_view s) {
    I32(static_cast<int32_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
};

TEST(ImatrixFileTest, EveryTruncationOfTheFixturesIsAnError) {
  for (const char* name : {"stories260k.imatrix.gguf", "stories260k.imatrix.dat"}) {
    const std::vector<uint8_t> bytes = ReadBytes(testing::SourcePath(kFixtures + name));
    const std::string path = testing::ScratchDir() / "cut";
    // Every cut in the first 300 bytes (headers, first entries), then every 101st; the .dat's trailer is optional, so cuts just before
    // it (no trailer) and just after the chunk count are valid files.
    const size_t dat_entries_end = bytes.size() - 4 - 4 - 23;
    for (size_t cut = 0; cut < bytes.size(); cut += (cut < 300 ? 1 : 101)) {
      const bool dat = std::string_view(name).ends_with(".dat");
      if (dat && (cut == dat_entries_end || cut == dat_entries_end + 4)) continue;
      WriteBytes(path, std::span(bytes).first(cut));
      Result<ImatrixData> d = ReadImatrixFile(path);
      ASSERT_FALSE(d.ok()) << name << " cut at " << cut;
      EXPECT_EQ(d.status().message().find('\n'), std::string::npos) << d.status().message();
      EXPECT_EQ(d.status().message().rfind(path, 0), 0u) << d.status().message();
    }
    if (std::string_view(name).ends_with(".dat")) {
      for (size_t cut : {dat_entries_end, dat_entries_end + 4}) {
        WriteBytes(path, std::span(bytes).first(cut));
        Result<ImatrixData> d = ReadImatrixFile(path);
        ASSERT_TRUE(d.ok()) << d.status().message();
        EXPECT_EQ(d->tensors.size(), 35u);
        EXPECT_EQ(d->chunk_count, cut == dat_entries_end ? 0 : 4);
        EXPECT_TRUE(d->datasets.empty());
      }
    }
  }
}

TEST(ImatrixFileTest, MalformedDat) {
  ExpectError(std::vector<uint8_t>{1, 0, 0}, {"3 bytes, too short"});
  ExpectError(Dat().I32(0).I32(0).I32(0).I32(0).b, {"entry count at offset 0 is 0", "expected 1"});
  ExpectError(Dat().I32(2).Name("w").I32(1).I32(1).F32(1).b, {"entry count at offset 0 is 2"});
  ExpectError(Dat().I32(1).I32(0).I32(1).I32(1).F32(1).F32(1).b,
              {"entry 0 at offset 4: name length is 0"});
  ExpectError(Dat().I32(1).I32(-3).I32(1).I32(1).F32(1).F32(1).b, {"name length is -3"});
  // A name with a newline stays on one line (a fuzzer finding).
  ExpectError(Dat().I32(1).Name("a\nb").I32(-1).I32(1).F32(1).b, {"entry 0 ('a\\x0ab')"});
  ExpectError(Dat().I32(1).Name("w").I32(-1).I32(1).F32(1).b,
              {"entry 0 ('w') at offset 4: ncall is -1, expected >= 0"});
  ExpectError(Dat().I32(1).Name("w").I32(1).I32(0).F32(1).b, {"nval is 0, expected >= 1"});
  ExpectError(Dat().I32(1).Name("w").I32(1).I32(2).F32(1).b,
              {"entry 0 ('w') at offset 4: 2 values at offset 17: needs 8 bytes", "truncated"});
  ExpectError(Dat().I32(1).Name("w").I32(1).I32(1).F32(NAN).b, {"('w')", "value 0 is nan"});
  ExpectError(Dat().I32(1).Name("w").I32(1).I32(1).F32(-1).b, {"value 0 is -1", ">= 0"});
  ExpectError(Dat().I32(2).Name("w").I32(1).I32(1).F32(1).Name("w").I32(1).I32(1).F32(1).b,
              {"entry 1 ('w') at offset 21: duplicate entry name"});
  ExpectError(Dat().I32(1).Name("w").I32(1).I32(1).F32(1).I32(-2).b,
              {"chunk count at offset 21 is -2"});
  ExpectError(Dat().I32(1).Name("w").I32(1).I32(1).F32(1).I32(2).I32(6).Name("x").b,
              {"dataset name length at offset 25 is 6, expected the 5 bytes left"});
  ExpectError(Dat().I32(1).Name("w").I32(1).I32(1).F32(1).I32(2).I32(1).b,
              {"dataset name length at offset 25 is 1, expected the 0 bytes left"});
  Dat stray = Dat().I32(1).Name("w").I32(1).I32(1).F32(1).I32(2);
  stray.b.push_back(0);
  ExpectError(stray.b, {"dataset name length at offset 25: needs 4 bytes", "truncated"});
}

using testing::GgufBytes;

// A GGUF imatrix with one tensor "w" of `columns` sums; `kvs` lets a test drop or change keys.
GgufBytes ImatrixGguf(std::string_view type = "imatrix", bool datasets = true,
                      uint32_t counts_type = 0, float count = 4, float sum = 2,
                      std::string_view counts_name = "w.counts") {
  GgufBytes b;
  b.Header(2, datasets ? 4 : 3);
  b.Key("general.type", 8).Str(type);
  if (datasets) b.Key("imatrix.datasets", 9).Put<uint32_t>(8).Put<uint64_t>(1).Str("t.txt");
  b.Key("imatrix.chunk_count", 4).Put<uint32_t>(1);
  b.Key("imatrix.chunk_size", 4).Put<uint32_t>(4);
  b.Tensor("w.in_sum2", {2}, 0, 0);
  b.Tensor(counts_name, {1}, counts_type, 32);
  b.Pad(32).Put<float>(sum).Put<float>(1).Pad(32);
  if (counts_type == 0) {
    b.Put<float>(count).Pad(32);
  } else {
    b.Put<uint16_t>(0x4400).Pad(32);  // F16 4.0
  }
  return b;
}

TEST(ImatrixFileTest, MalformedGguf) {
  {
    GgufBytes b = ImatrixGguf();
    const std::string path = b.WriteTo(testing::ScratchDir() / "ok.gguf");
    Result<ImatrixData> d = ReadImatrixFile(path);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(d->tensors.at("w").sums, (std::vector<float>{2, 1}));
    EXPECT_EQ(d->tensors.at("w").counts, std::vector<int64_t>{4});
  }
  ExpectError(ImatrixGguf("llama").bytes(), {"general.type is 'llama', expected 'imatrix'"});
  ExpectError(ImatrixGguf("imatrix", false).bytes(), {"missing required key 'imatrix.datasets'"});
  ExpectError(ImatrixGguf("imatrix", true, 1).bytes(),
              {"tensor 'w.counts' has type F16, expected F32"});
  ExpectError(ImatrixGguf("imatrix", true, 0, -1).bytes(),
              {"tensor 'w.counts' holds count -1", "whole number"});
  ExpectError(ImatrixGguf("imatrix", true, 0, NAN).bytes(), {"holds count nan"});
  ExpectError(ImatrixGguf("imatrix", true, 0, 4, INFINITY).bytes(),
              {"tensor 'w.in_sum2' value 0 is inf"});
  ExpectError(ImatrixGguf("imatrix", true, 0, 4, 2, "v.counts").bytes(),
              {"tensor 'v.in_sum2' is missing (its partner 'v.counts' is present)"});
  ExpectError(ImatrixGguf("imatrix", true, 0, 4, 2, "w.other").bytes(),
              {"tensor 'w.other' is neither NAME.in_sum2 nor NAME.counts"});
  ExpectError(ImatrixGguf("imatrix", true, 0, 4, 2, ".counts").bytes(), {"no weight tensor name"});
  // Two counts for a 2-column sum: 2 matrices of 1 column, but the sums' row says 2 columns.
  GgufBytes two;
  two.Header(2, 4);
  two.Key("general.type", 8).Str("imatrix");
  two.Key("imatrix.datasets", 9).Put<uint32_t>(8).Put<uint64_t>(0);
  two.Key("imatrix.chunk_count", 4).Put<uint32_t>(1);
  two.Key("imatrix.chunk_size", 4).Put<uint32_t>(4);
  two.Tensor("w.in_sum2", {2}, 0, 0);
  two.Tensor("w.counts", {1, 2}, 0, 32);
  two.Pad(32).Put<float>(1).Put<float>(1).Pad(32).Put<float>(1).Put<float>(1).Pad(32);
  ExpectError(two.bytes(), {"tensor 'w.in_sum2' has 2 elements (2 columns), but 'w.counts' has 2 "
                            "counts: expected 2 × 2"});
}

}  // namespace
}  // namespace shrink
