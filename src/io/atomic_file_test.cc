#include "io/atomic_file.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iterator>

#include "testing/test_paths.h"

namespace shrink {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(AtomicFileWriterTest, CommitReplacesTargetOnlyAtTheEnd) {
  const auto dir = testing::ScratchDir();
  const auto path = dir / "out.bin";
  std::ofstream(path) << "old";
  auto w = AtomicFileWriter::Create(path.string());
  ASSERT_TRUE(w.ok()) << w.status().message();
  const uint8_t bytes[] = {'n', 'e', 'w'};
  ASSERT_TRUE(w->Write(bytes).ok());
  ASSERT_TRUE(w->WriteZeros(2).ok());
  EXPECT_EQ(Slurp(path), "old");  // not replaced before Commit
  EXPECT_TRUE(std::filesystem::exists(w->temp_path()));
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(Slurp(path), std::string("new\0\0", 5));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
}

TEST(AtomicFileWriterTest, DestructorWithoutCommitRemovesTempFile) {
  const auto dir = testing::ScratchDir();
  const auto path = dir / "out.bin";
  std::string temp;
  {
    auto w = AtomicFileWriter::Create(path.string());
    ASSERT_TRUE(w.ok());
    temp = w->temp_path();
    EXPECT_NE(temp.find("out.bin.tmp."), std::string::npos);
    const uint8_t bytes[] = {1, 2, 3};
    ASSERT_TRUE(w->Write(bytes).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_FALSE(std::filesystem::exists(path));
}

// A writer SIGKILLed mid-write (a real child process) leaves "<out>.tmp.<pid>"; the next writer of
// the same output removes it, as no process has that pid any more. Temps of a live process, of
// another output, or with a name that is not a pid stay.
TEST(AtomicFileWriterTest, NextWriteRemovesTempsOfKilledWriters) {
  const auto dir = testing::ScratchDir();
  const std::string path = (dir / "out.bin").string();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto w = AtomicFileWriter::Create(path);
    if (!w.ok()) ::_exit(2);
    const uint8_t bytes[] = {'h', 'a', 'l', 'f'};
    if (!w->Write(bytes).ok()) ::_exit(3);
    ::raise(SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  const std::string stale = fmt::format("{}.tmp.{}", path, child);
  ASSERT_TRUE(std::filesystem::exists(stale));
  const std::string live = fmt::format("{}.tmp.{}", path, ::getppid());  // our parent: alive
  const std::string other_output = (dir / fmt::format("other.bin.tmp.{}", child)).string();
  const std::string not_a_pid = path + ".tmp.12x";
  for (const std::string& p : {live, other_output, not_a_pid}) std::ofstream(p) << "keep";

  auto w = AtomicFileWriter::Create(path);
  ASSERT_TRUE(w.ok()) << w.status().message();
  const uint8_t bytes[] = {'n', 'e', 'w'};
  ASSERT_TRUE(w->Write(bytes).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_EQ(Slurp(path), "new");
  for (const std::string& p : {live, other_output, not_a_pid}) {
    EXPECT_TRUE(std::filesystem::exists(p)) << p;
  }
}

TEST(AtomicFileWriterTest, CreateInMissingFolderNamesPathAndReason) {
  auto w = AtomicFileWriter::Create("/nonexistent-shrink-dir/x.gguf");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("/nonexistent-shrink-dir/x.gguf.tmp."), std::string::npos);
  EXPECT_NE(w.status().message().find("No such file or directory"), std::string::npos);
}

}  // namespace
}  // namespace shrink
