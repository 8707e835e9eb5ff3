#include "model/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace shrink {
namespace {

TEST(SamplerTest, GreedyIsArgmaxWithLowestIdOnTies) {
  Sampler s({.temperature = 0.0f});
  const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(s.Sample(logits), 1);
}

TEST(SamplerTest, SameSeedSameTokens) {
  const std::vector<float> logits = {1.0f, 1.2f, 0.8f, 1.1f, 0.0f};
  Sampler a({.temperature = 1.0f, .top_p = 1.0f, .seed = 42});
  Sampler b({.temperature = 1.0f, .top_p = 1.0f, .seed = 42});
  std::vector<TokenId> ta, tb;
  for (int i = 0; i < 50; ++i) {
    ta.push_back(a.Sample(logits));
    tb.push_back(b.Sample(logits));
  }
  EXPECT_EQ(ta, tb);
}

TEST(SamplerTest, FrequenciesFollowSoftmax) {
  // 20000 draws: each frequency is within 4 standard deviations (sqrt(p(1-p)/n) <= 0.0036) of
  // softmax.
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  Sampler s({.temperature = 1.0f, .top_p = 1.0f, .seed = 7});
  std::map<TokenId, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[s.Sample(logits)];
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(counts[k] / static_cast<double>(n), std::exp(static_cast<double>(k)) / z,
                4 * 0.0036)
        << k;
  }
}

TEST(SamplerTest, TopPKeepsOnlyTheNucleus) {
  // p ≈ {0.665, 0.245, 0.090}: top_p 0.5 keeps only the first token.
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  Sampler s({.temperature = 1.0f, .top_p = 0.5f, .seed = 3});
  for (int i = 0; i < 200; ++i) EXPECT_EQ(s.Sample(logits), 0);
  // top_p 0.8 keeps the first two, never the third.
  Sampler t({.temperature = 1.0f, .top_p = 0.8f, .seed = 3});
  bool saw_second = false;
  for (int i = 0; i < 500; ++i) {
    const TokenId id = t.Sample(logits);
    EXPECT_NE(id, 2);
    saw_second |= id == 1;
  }
  EXPECT_TRUE(saw_second);
}

}  // namespace
}  // namespace shrink
