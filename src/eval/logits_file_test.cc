// Validation of base files: each kind of damage gives an error naming the file, the field and
// offset.
#include "eval/logits_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "testing/test_paths.h"

namespace shrink {
namespace {

std::string WriteBytes(const std::string& name, const std::string& bytes) {
  const std::string path = (testing::ScratchDir() / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A valid file: n_ctx 4 (1 scored row per chunk), n_vocab 3 (row = 4 + 4 words), 1 chunk.
std::string ValidFile() {
  std::string b = "_logits_";
  const int32_t fields[3] = {4, 3, 1}, tokens[4] = {1, 2, 0, 2};
  b.append(reinterpret_cast<const char*>(fields), sizeof(fields));
  b.append(reinterpret_cast<const char*>(tokens), sizeof(tokens));
  const float scale_min[2] = {0.001f, -5.0f};
  b.append(reinterpret_cast<const char*>(scale_min), sizeof(scale_min));
  const uint16_t q[4] = {100, 0, 65535, 0};
  b.append(reinterpret_cast<const char*>(q), sizeof(q));
  return b;
}

std::string ErrorOf(const std::string& bytes) {
  Result<LogitsFileReader> r = LogitsFileReader::Open(WriteBytes("f.logits", bytes));
  return r.ok() ? "OK" : r.status().message();
}

TEST(LogitsFileTest, LayoutConstants) {
  EXPECT_EQ(LogProbRowWords(49152), 49156u);  // SmolLM2: even vocab, no padding word
  EXPECT_EQ(LogProbRowWords(11), 16u);        // odd vocab: one padding word
  EXPECT_EQ(ScoredPerChunk(512), 255);
  EXPECT_EQ(ScoredPerChunk(5), 2);
}

TEST(LogitsFileTest, ReadsValidFile) {
  Result<LogitsFileReader> r = LogitsFileReader::Open(WriteBytes("ok.logits", ValidFile()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->header().tokens, (std::vector<TokenId>{1, 2, 0, 2}));
  std::vector<uint16_t> rows(8);
  ASSERT_TRUE(r->ReadChunk(0, rows).ok());
  EXPECT_EQ(rows[6], 65535);
}

TEST(LogitsFileTest, RejectsDamage) {
  EXPECT_NE(ErrorOf("_logi").find("truncated"), std::string::npos);
  std::string bad_magic = ValidFile();
  bad_magic[0] = 'X';
  EXPECT_NE(ErrorOf(bad_magic).find("bad magic at offset 0"), std::string::npos);
  std::string cut = ValidFile();
  cut.pop_back();
  EXPECT_NE(ErrorOf(cut).find("implies 52 bytes (truncated?)"), std::string::npos) << ErrorOf(cut);
  EXPECT_NE(ErrorOf(ValidFile() + "x").find("trailing data"), std::string::npos);
  std::string bad_ctx = ValidFile();
  const int32_t zero = 0;
  std::memcpy(bad_ctx.data() + 8, &zero, 4);
  EXPECT_NE(ErrorOf(bad_ctx).find("n_ctx at offset 8 is 0"), std::string::npos);
  std::string bad_token = ValidFile();
  const int32_t big = 3;
  std::memcpy(bad_token.data() + 20 + 8, &big, 4);
  EXPECT_NE(ErrorOf(bad_token).find("token 2 at offset 28 is 3"), std::string::npos)
      << ErrorOf(bad_token);
  EXPECT_NE(ErrorOf(bad_token).find("f.logits"), std::string::npos);
}

// n_ctx = n_vocab = n_chunk = 2^31 − 1 imply about 2^92 bytes; 64-bit arithmetic that wraps said
// 4611685979772682272.
TEST(LogitsFileTest, HeaderImplyingMoreThan64BitsOfBytes) {
  std::string b = ValidFile();
  const int32_t fields[3] = {INT32_MAX, INT32_MAX, INT32_MAX};
  std::memcpy(b.data() + 8, fields, sizeof(fields));
  EXPECT_NE(ErrorOf(b).find("implies more than 2^64 bytes"), std::string::npos) << ErrorOf(b);
  LogitsFileHeader h{INT32_MAX, INT32_MAX, INT32_MAX, {}};
  EXPECT_EQ(h.ExpectedFileBytes(), std::nullopt);
  h.n_chunk = 1;  // 20 + 4·n_ctx + ScoredPerChunk(n_ctx)·(n_vocab + 5)·2 bytes
  EXPECT_EQ(h.ExpectedFileBytes(),
            20 + 4 * uint64_t{INT32_MAX} + uint64_t{1073741823} * (uint64_t{INT32_MAX} + 5) * 2);
}

TEST(LogitsFileTest, RejectsNonFiniteScale) {
  std::string b = ValidFile();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(b.data() + 36, &nan, 4);
  Result<LogitsFileReader> r = LogitsFileReader::Open(WriteBytes("nan.logits", b));
  ASSERT_TRUE(r.ok());
  std::vector<uint16_t> rows(8);
  Status s = r->ReadChunk(0, rows);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("chunk 0 row 0 at offset 36"), std::string::npos) << s.message();
}

TEST(LogitsFileTest, HeaderWhoseSizeWrapsPast64BitsIsAnError) {
  // fuzz/regressions/logits_file/size-wraps-to-28-bytes: n_ctx 2^31 - 1, n_vocab 1717986911 and
  // n_chunk 10 imply 2^66 + 28 bytes; wrapped to 64 bits that is this 28-byte file's size, and the
  // reader then asked for 86 GB of tokens (std::bad_alloc).
  std::string b = "_logits_";
  const int32_t fields[3] = {2147483647, 1717986911, 10};
  b.append(reinterpret_cast<const char*>(fields), sizeof(fields));
  b.append(8, '\0');
  const std::string error = ErrorOf(b);
  EXPECT_NE(error.find("implies more than 2^64 bytes"), std::string::npos) << error;
}

// The files in `dir`, by name.
std::vector<std::string> FilesIn(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The header of ValidFile(), but 2 chunks: one chunk (one row of 8 words) short of complete.
LogitsFileHeader TwoChunkHeader() { return {4, 3, 2, {1, 2, 0, 2, 2, 0, 1, 1}}; }
constexpr uint16_t kRow[8] = {0x126f, 0x3a83, 0, 0xc0a0, 100, 0, 65535, 0};

// A run stopped by an error between chunks (the writer destroyed without Finish) leaves neither
// a file at the path nor a temp next to it; an older file at the path stays as it was.
TEST(LogitsFileTest, WriterStoppedMidWriteLeavesNoPartialFile) {
  const auto dir = testing::ScratchDir();
  const std::string path = (dir / "base.logits").string();
  {
    auto w = LogitsFileWriter::Create(path, TwoChunkHeader());
    ASSERT_TRUE(w.ok()) << w.status().message();
    ASSERT_TRUE(w->WriteChunk(kRow).ok());
  }
  EXPECT_EQ(FilesIn(dir), std::vector<std::string>{});
  std::ofstream(path) << "older";
  {
    auto w = LogitsFileWriter::Create(path, TwoChunkHeader());
    ASSERT_TRUE(w.ok()) << w.status().message();
    ASSERT_TRUE(w->WriteChunk(kRow).ok());
  }
  EXPECT_EQ(FilesIn(dir), std::vector<std::string>{"base.logits"});
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "older");
}

// A writer SIGKILLed mid-write (a real child process) leaves no file at the path; the next complete
// write gives the full file and removes the killed one's temp.
TEST(LogitsFileTest, WriterKilledMidWriteLeavesNoPartialFileAndNextWriteCleansUp) {
  const auto dir = testing::ScratchDir();
  const std::string path = (dir / "base.logits").string();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto w = LogitsFileWriter::Create(path, TwoChunkHeader());
    if (!w.ok() || !w->WriteChunk(kRow).ok()) ::_exit(2);
    ::raise(SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  EXPECT_FALSE(std::filesystem::exists(path));

  auto w = LogitsFileWriter::Create(path, TwoChunkHeader());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_TRUE(w->WriteChunk(kRow).ok());
  ASSERT_TRUE(w->WriteChunk(kRow).ok());
  ASSERT_TRUE(w->Finish().ok());
  EXPECT_EQ(FilesIn(dir), std::vector<std::string>{"base.logits"});
  auto r = LogitsFileReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->header().n_chunk, 2);
  std::vector<uint16_t> rows(8);
  ASSERT_TRUE(r->ReadChunk(1, rows).ok());
  EXPECT_EQ(rows, std::vector<uint16_t>(std::begin(kRow), std::end(kRow)));
}

TEST(LogitsFileTest, MissingFileNamesPath) {
  Result<LogitsFileReader> r = LogitsFileReader::Open("/nonexistent/x.logits");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/x.logits"), std::string::npos);
}

}  // namespace
}  // namespace shrink
