// quantize --imatrix against llama-quantize --imatrix: stories260K quantized with llama-imatrix's
// own file (tests/oracles/fixtures/imatrix/, made by tests/oracles/make_imatrix_fixtures.sh) gives
// every tensor the type and the bytes llama-quantize gave it (FNV-1a 64 hashes of its output, per
// tensor, in stories260k.llama_quantize.tsv). On rows of 64 and 172 this covers the weighted Q4_0
// and Q5_0 encoders (Q4_K_M falls back to Q5_0), the imatrix-independent Q8_0 and F16, and the plan.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>

#include "io/gguf.h"
#include "io/imatrix_file.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "model/stories_test_util.h"
#include "quant/importance.h"
#include "quant/quantized_gguf.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

uint64_t Fnv1a64(std::span<const uint8_t> bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

TEST(ImatrixQuantizePeerTest, StoriesMatchesLlamaQuantizeByteForByte) {
  SHRINK_LOAD_STORIES260K_OR_SKIP(model);
  const std::string fixtures = "tests/oracles/fixtures/imatrix/";
  const std::string imatrix_path = testing::SourcePath(fixtures + "stories260k.imatrix.gguf");
  Result<ImatrixData> imatrix = ReadImatrixFile(imatrix_path);
  ASSERT_TRUE(imatrix.ok()) << imatrix.status().message();

  // expected[mix][tensor] = (type, hash)
  std::map<std::string, std::map<std::string, std::pair<std::string, std::string>>> expected;
  std::ifstream in(testing::SourcePath(fixtures + "stories260k.llama_quantize.tsv"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream row(line);
    std::string mix, name, type, hash;
    std::getline(row, mix, '\t');
    std::getline(row, name, '\t');
    std::getline(row, type, '\t');
    std::getline(row, hash, '\t');
    expected[mix][name] = {type, hash};
  }
  ASSERT_EQ(expected.size(), 2u);

  for (const auto& [mix_name, tensors] : expected) {
    SCOPED_TRACE(mix_name);
    const QuantMix& mix = **FindMix(mix_name);
    QuantPlan plan = PlanQuantization(model->config, TensorsInTableOrder(model->weights), mix,
                                      false, /*with_imatrix=*/true);
    Result<AttachedImportance> weights = AttachImatrix(*imatrix, imatrix_path, plan);
    ASSERT_TRUE(weights.ok()) << weights.status().message();
    EXPECT_GT(weights->used, 0);
    const std::string path = (testing::ScratchDir() / (mix_name + ".gguf")).string();
    const Status written = WriteQuantizedGguf(
        path, QuantizedMetadata(*ConfigGgufMetadata(model->config), mix), plan, {.threads = 2});
    ASSERT_TRUE(written.ok()) << written.message();
    Result<GgufFile> file = GgufFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status().message();
    ASSERT_EQ(file->tensors().size(), tensors.size());
    for (const GgufTensorInfo& t : file->tensors()) {
      const auto it = tensors.find(t.name);
      ASSERT_NE(it, tensors.end()) << t.name;
      EXPECT_EQ(t.traits->name, it->second.first) << t.name;
      EXPECT_EQ(fmt::format("{:016x}", Fnv1a64(t.data)), it->second.second) << t.name;
    }
  }
}

}  // namespace
}  // namespace shrink
