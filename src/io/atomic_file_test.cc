#include "io/atomic_file.h"

#include <gtest/gtest.h>

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

TEST(AtomicFileWriterTest, CreateInMissingFolderNamesPathAndReason) {
  auto w = AtomicFileWriter::Create("/nonexistent-shrink-dir/x.gguf");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("/nonexistent-shrink-dir/x.gguf.tmp."), std::string::npos);
  EXPECT_NE(w.status().message().find("No such file or directory"), std::string::npos);
}

}  // namespace
}  // namespace shrink
