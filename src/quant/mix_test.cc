// The mixes against llama-quantize's own choices (tests/oracles/fixtures/llama_quantize_plans_*.tsv,
// made by tests/oracles/llama_quantize_plans.py from `llama-quantize --dry-run` on F32 bases of the
// two models, without and with --imatrix), and the rule table's invariants.
#include "quant/mix.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "model/loaders.h"
#include "quant/fallback.h"
#include "quant/plan.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

// fixture[mix][tensor] = type name.
using PlanFixture = std::map<std::string, std::map<std::string, std::string>>;

PlanFixture ReadFixture(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::string line;
  std::getline(in, line);
  std::vector<std::string> mixes;
  {
    std::istringstream header(line);
    std::string cell;
    std::getline(header, cell, '\t');  // "tensor"
    while (std::getline(header, cell, '\t')) mixes.push_back(cell);
  }
  PlanFixture out;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string name, type;
    std::getline(row, name, '\t');
    for (const std::string& mix : mixes) {
      std::getline(row, type, '\t');
      out[mix][name] = type;
    }
  }
  return out;
}

// Every mix shrink defines plans `model_file` as llama-quantize did, tensor by tensor (for a run
// with an importance matrix when `with_imatrix`).
void ExpectPlansMatchLlamaQuantize(const std::string& model_file, const std::string& fixture,
                                   bool with_imatrix = false) {
  const auto path = testing::CachedModelPath(model_file);
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "skipped: " << path << " is absent";
  auto model = LoadGgufTransformer(path.string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  const PlanFixture expected = ReadFixture(testing::SourcePath(fixture).string());
  const std::vector<const TensorView*> tensors = TensorsInTableOrder((*model)->weights);
  int fallbacks_q4_k_m = 0;
  for (const QuantMix& mix : AllMixes()) {
    SCOPED_TRACE(mix.name);
    auto it = expected.find(std::string(mix.name));
    ASSERT_NE(it, expected.end()) << "the fixture has no column for " << mix.name;
    const QuantPlan plan = PlanQuantization((*model)->config, tensors, mix, false, with_imatrix);
    ASSERT_EQ(plan.tensors.size(), it->second.size());
    for (const TensorPlan& t : plan.tensors) {
      auto want = it->second.find(t.source->name);
      ASSERT_NE(want, it->second.end()) << t.source->name;
      EXPECT_EQ(Traits(t.type).name, want->second) << t.source->name;
      if (mix.name == "Q4_K_M") fallbacks_q4_k_m += t.fell_back ? 1 : 0;
    }
  }
  // llama-quantize's own count: "WARNING: N of M tensor(s) required fallback quantization".
  if (model_file.starts_with("smollm2")) {
    EXPECT_EQ(fallbacks_q4_k_m, 180);
  } else {
    EXPECT_EQ(fallbacks_q4_k_m, 90);
  }
}

TEST(MixTest, SmolLM2PlansMatchLlamaQuantize) {
  ExpectPlansMatchLlamaQuantize("smollm2-135m-instruct-q4_1.gguf",
                                "tests/oracles/fixtures/llama_quantize_plans_smollm2.tsv");
}

TEST(MixTest, Gemma3PlansMatchLlamaQuantize) {
  ExpectPlansMatchLlamaQuantize("gemma-3-270m-q4_k_m.gguf",
                                "tests/oracles/fixtures/llama_quantize_plans_gemma3.tsv");
}

TEST(MixTest, SmolLM2PlansWithImatrixMatchLlamaQuantize) {
  ExpectPlansMatchLlamaQuantize("smollm2-135m-instruct-q4_1.gguf",
                                "tests/oracles/fixtures/llama_quantize_plans_smollm2_imatrix.tsv",
                                /*with_imatrix=*/true);
}

TEST(MixTest, Gemma3PlansWithImatrixMatchLlamaQuantize) {
  ExpectPlansMatchLlamaQuantize("gemma-3-270m-q4_k_m.gguf",
                                "tests/oracles/fixtures/llama_quantize_plans_gemma3_imatrix.tsv",
                                /*with_imatrix=*/true);
}

TEST(MixTest, NamesAreUniqueAndFoundCaseInsensitively) {
  std::map<std::string_view, int> names;
  for (const QuantMix& mix : AllMixes()) EXPECT_EQ(++names[mix.name], 1) << mix.name;
  auto q = FindMix("q4_k_m");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->name, "Q4_K_M");
  EXPECT_EQ((*q)->llama_ftype, 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
}

TEST(MixTest, UnknownNameListsEveryValidName) {
  auto q = FindMix("Q4_K_X");
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("unknown quantization type 'Q4_K_X'"), std::string::npos);
  for (const QuantMix& mix : AllMixes()) {
    EXPECT_NE(q.status().message().find(mix.name), std::string::npos) << mix.name;
  }
}

TEST(MixTest, RulesNeverTargetNormsAndEveryTypeHasAFallbackPath) {
  for (const QuantMix& mix : AllMixes()) {
    for (const QuantRule& rule : mix.rules) {
      for (TensorRole norm : {TensorRole::kAttnNorm, TensorRole::kFfnNorm, TensorRole::kOutputNorm,
                              TensorRole::kAttnQNorm, TensorRole::kAttnKNorm,
                              TensorRole::kAttnPostNorm, TensorRole::kFfnPostNorm}) {
        EXPECT_FALSE(rule.roles.Has(norm)) << mix.name << ": " << rule.why;
      }
    }
    // A 256-block base type must have a block-32 fallback (llama.cpp throws otherwise).
    if (Traits(mix.base).block_elements == 256) {
      EXPECT_TRUE(SmallerBlockType(mix.base).has_value()) << mix.name;
    }
  }
}

TEST(FallbackTest, FollowsLlamaCpp) {
  using T = TensorType;
  EXPECT_EQ(FallbackForRow(T::kQ4_K, 576).type, T::kQ5_0);
  EXPECT_TRUE(FallbackForRow(T::kQ4_K, 576).fell_back);
  EXPECT_EQ(FallbackForRow(T::kQ4_K, 1536).type, T::kQ4_K);
  EXPECT_FALSE(FallbackForRow(T::kQ4_K, 1536).fell_back);
  EXPECT_EQ(FallbackForRow(T::kQ6_K, 640).type, T::kQ8_0);
  EXPECT_EQ(FallbackForRow(T::kIQ4_XS, 576).type, T::kIQ4_NL);
  EXPECT_EQ(FallbackForRow(T::kQ2_K, 576).type, T::kQ4_0);
  EXPECT_EQ(FallbackForRow(T::kQ5_K, 576).type, T::kQ5_1);
  EXPECT_EQ(FallbackForRow(T::kQ4_K, 172).type, T::kF16);  // Q5_0 does not fit 172 either
  EXPECT_EQ(FallbackForRow(T::kQ8_0, 172).type, T::kF16);
  EXPECT_EQ(FallbackForRow(T::kBF16, 172).type, T::kBF16);
}

}  // namespace
}  // namespace shrink
