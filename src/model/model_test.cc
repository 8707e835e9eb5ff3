// LoadModel's choice of container for files too short to tell.
#include "model/model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "testing/test_paths.h"

namespace shrink {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ErrorLoading(const std::string& name, const std::string& bytes) {
  const std::string path = (testing::ScratchDir() / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  auto model = LoadModel(path);
  return model.ok() ? "OK" : model.status().message();
}

// A GGUF file cut inside its magic was reported as a short llama2.c header.
TEST(LoadModelTest, FileCutInsideTheGgufMagicIsATruncatedGgufHeader) {
  for (const std::string prefix : {"G", "GG", "GGU"}) {
    const std::string error = ErrorLoading("cut.gguf", prefix);
    EXPECT_THAT(error, HasSubstr("cut.gguf: truncated GGUF header")) << prefix;
    EXPECT_THAT(error, HasSubstr(fmt::format("the file is {} bytes", prefix.size())));
    EXPECT_THAT(error, Not(HasSubstr("llama2.c header"))) << error;
  }
}

TEST(LoadModelTest, FilesShorterThanTheMagicAreNoModel) {
  EXPECT_THAT(ErrorLoading("empty.bin", ""),
              HasSubstr("empty.bin: the file is 0 bytes, too short for a model: a GGUF file starts "
                        "with the 4-byte magic \"GGUF\" at offset 0"));
  EXPECT_THAT(ErrorLoading("abc.bin", "abc"), HasSubstr("abc.bin: the file is 3 bytes, too short"));
}

TEST(LoadModelTest, FourBytesOrMoreWithoutTheMagicAreLlama2c) {
  EXPECT_THAT(ErrorLoading("short.bin", "abcd"), HasSubstr("shorter than the 28-byte llama2.c"));
  EXPECT_THAT(ErrorLoading("magic.gguf", "GGUF"), HasSubstr("magic.gguf"));
  EXPECT_THAT(ErrorLoading("magic.gguf", "GGUF"), Not(HasSubstr("llama2.c")));
}

}  // namespace
}  // namespace shrink
