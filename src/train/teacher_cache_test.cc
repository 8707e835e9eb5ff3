// The teacher cache (train/teacher_cache.h): records read back as written across reopenings; a
// header differing in any keyed field is refused naming that field; truncated and corrupt records
// are refused naming their offset; a cache cut back to its whole records is continued; a second
// open of a cache in use is refused; tokens differing from the run's window are refused.
#include "train/teacher_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "testing/test_paths.h"

namespace shrink::train {
namespace {

constexpr int64_t kSeq = 4, kK = 3;

TeacherCacheKey Key() {
  return {.teacher_bytes = 1000,
          .teacher_hash = 42,
          .tau = 2.0f,
          .k = kK,
          .seq = kSeq,
          .vocab = 10,
          .data_tokens = 100,
          .data_hash = 0x1234,
          .windows = 5};
}

// A record's contents, distinct per window.
struct Rows {
  std::vector<int32_t> tokens, ids;
  std::vector<float> log_p, log_rest;
};
Rows RowsOf(int64_t w) {
  Rows r;
  for (int64_t i = 0; i < kSeq; ++i) r.tokens.push_back(static_cast<int32_t>((w * 3 + i) % 10));
  for (int64_t i = 0; i < kSeq * kK; ++i) {
    r.ids.push_back(static_cast<int32_t>((w + i) % 10));
    r.log_p.push_back(-0.25f * static_cast<float>(i + w));
  }
  for (int64_t i = 0; i < kSeq; ++i) r.log_rest.push_back(i == 0 ? -INFINITY : -3.0f - w);
  return r;
}

Status Append(TeacherCache& c, int64_t w) {
  const Rows r = RowsOf(w);
  return c.Append(w, r.tokens, r.ids.data(), r.log_p.data(), r.log_rest.data());
}

void ExpectReads(TeacherCache& c, int64_t w) {
  const Rows r = RowsOf(w);
  Rows got{
      {}, std::vector<int32_t>(kSeq * kK), std::vector<float>(kSeq * kK), std::vector<float>(kSeq)};
  ASSERT_TRUE(c.Has(w));
  const Status s = c.Read(w, r.tokens, got.ids.data(), got.log_p.data(), got.log_rest.data());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got.ids, r.ids);
  EXPECT_EQ(got.log_p, r.log_p);
  EXPECT_EQ(got.log_rest, r.log_rest);
}

std::string Fresh(const std::string& name) {
  const std::string path = (shrink::testing::ScratchDir() / name).string();
  std::filesystem::remove(path);
  return path;
}

void ExpectOpenError(const std::string& path, const TeacherCacheKey& key,
                     const std::vector<std::string>& words) {
  Result<TeacherCache> c = TeacherCache::Open(path, key);
  ASSERT_FALSE(c.ok());
  for (const std::string& w : words) {
    EXPECT_NE(c.status().message().find(w), std::string::npos)
        << "no '" << w << "' in: " << c.status().message();
  }
}

TEST(TeacherCacheTest, RecordsReadBackAfterReopening) {
  const std::string path = Fresh("roundtrip.tkc");
  {
    Result<TeacherCache> c = TeacherCache::Open(path, Key());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->cached(), 0);
    EXPECT_EQ(c->record_bytes(), uint64_t{16 + 4 * 4 + 8 * 4 * 3 + 4 * 4 + 8});
    ASSERT_TRUE(Append(*c, 2).ok());
    ASSERT_TRUE(Append(*c, 0).ok());
    ExpectReads(*c, 2);
    // A second open while this one holds the file is refused.
    ExpectOpenError(path, Key(), {"locked by another run"});
  }
  EXPECT_EQ(std::filesystem::file_size(path), TeacherCache::kHeaderBytes + 2 * 152);
  Result<TeacherCache> c = TeacherCache::Open(path, Key());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->cached(), 2);
  EXPECT_FALSE(c->Has(1));
  ExpectReads(*c, 0);
  ExpectReads(*c, 2);
  ASSERT_TRUE(Append(*c, 4).ok());
  ExpectReads(*c, 4);
  // Tokens other than the record's: refused, naming the position.
  Rows other = RowsOf(0);
  other.tokens[2] = (other.tokens[2] + 1) % 10;
  const Status s =
      c->Read(0, other.tokens, other.ids.data(), other.log_p.data(), other.log_rest.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("at position 2"), std::string::npos) << s.message();
}

TEST(TeacherCacheTest, EveryKeyedFieldIsChecked) {
  const std::string path = Fresh("key.tkc");
  { ASSERT_TRUE(TeacherCache::Open(path, Key()).ok()); }
  TeacherCacheKey k = Key();
  k.teacher_hash = 43;
  ExpectOpenError(path, k, {"made with teacher", "hash 000000000000002a", "hash 000000000000002b"});
  k = Key();
  k.teacher_bytes = 1001;
  ExpectOpenError(path, k, {"made with teacher", "1000 bytes", "1001 bytes"});
  k = Key();
  k.tau = 1.0f;
  ExpectOpenError(path, k, {"--temperature 2, this run has 1"});
  k = Key();
  k.k = 4;
  ExpectOpenError(path, k, {"--teacher-top-k 3, this run has 4"});
  k = Key();
  k.seq = 8;
  ExpectOpenError(path, k, {"--seq 4, this run has 8"});
  k = Key();
  k.vocab = 11;
  ExpectOpenError(path, k, {"vocabulary of 10 tokens, this run has 11"});
  k = Key();
  k.data_hash = 0x1235;
  ExpectOpenError(path, k, {"--data of 100 tokens (hash 0000000000001234)"});
  k = Key();
  k.data_tokens = 101;
  ExpectOpenError(path, k, {"--data of 100 tokens", "this run has 101 tokens"});
  // The unchanged key still opens it.
  EXPECT_TRUE(TeacherCache::Open(path, Key()).ok());
}

TEST(TeacherCacheTest, BadFilesNameTheOffset) {
  const std::string path = Fresh("bad.tkc");
  {
    Result<TeacherCache> c = TeacherCache::Open(path, Key());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(Append(*c, 1).ok());
    ASSERT_TRUE(Append(*c, 3).ok());
  }
  const uint64_t second = TeacherCache::kHeaderBytes + 152;
  auto patch = [&](uint64_t at, char byte) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(byte);
  };
  // A flipped byte inside the second record.
  patch(second + 40, 0x7f);
  ExpectOpenError(path, Key(), {"record at offset " + std::to_string(second), "corrupt"});
  // Cut inside the second record (a killed write).
  std::filesystem::resize_file(path, second + 100);
  ExpectOpenError(path, Key(),
                  {"record at offset " + std::to_string(second) + " is truncated (100 of 152",
                   "truncate -s " + std::to_string(second)});
  // Cut back to the whole records, the cache is continued.
  std::filesystem::resize_file(path, second);
  {
    Result<TeacherCache> c = TeacherCache::Open(path, Key());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->cached(), 1);
    ExpectReads(*c, 1);
    ASSERT_TRUE(Append(*c, 3).ok());
    ExpectReads(*c, 3);
  }
  // A changed header byte fails its check value.
  patch(33, 0x11);
  ExpectOpenError(path, Key(), {"check value at offset 88", "corrupt"});
  // Shorter than a header; not a cache at all.
  std::filesystem::resize_file(path, 50);
  ExpectOpenError(path, Key(), {"50 bytes, shorter than the teacher cache's 96-byte header"});
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << std::string(200, 'x');
  }
  ExpectOpenError(path, Key(), {"not a shrink teacher cache"});
}

}  // namespace
}  // namespace shrink::train
