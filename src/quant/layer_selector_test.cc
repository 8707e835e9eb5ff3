#include "quant/layer_selector.h"

#include <gtest/gtest.h>

namespace shrink {
namespace {

// llama.cpp's use_more_bits (src/llama-quant.cpp), restated as the test's oracle.
bool UseMoreBits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

TEST(LayerSelectorTest, MoreBitsIsLlamaCppsUseMoreBitsForEveryDepth) {
  for (int n = 1; n <= 128; ++n) {
    for (int l = 0; l < n; ++l) {
      EXPECT_EQ(layers::kMoreBits.Selects(l, n), UseMoreBits(l, n)) << "layer " << l << " of " << n;
    }
  }
}

TEST(LayerSelectorTest, FirstLastEveryAndFractions) {
  constexpr LayerSelector first2 = layers::First(2, "first 2");
  constexpr LayerSelector last3 = layers::Last(3, "last 3");
  constexpr LayerSelector eighth = layers::FirstFraction(8, "first n/8");
  constexpr LayerSelector every4 = layers::Every(4, 1, "every 4th from 1");
  EXPECT_EQ(first2.Resolve(30), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(last3.Resolve(30), (std::vector<int32_t>{27, 28, 29}));
  EXPECT_EQ(eighth.Resolve(30), (std::vector<int32_t>{0, 1, 2}));  // 30 / 8 = 3
  EXPECT_EQ(eighth.Resolve(7), std::vector<int32_t>{});            // 7 / 8 = 0
  EXPECT_EQ(every4.Resolve(10), (std::vector<int32_t>{1, 5, 9}));
  EXPECT_EQ(first2.Resolve(1), std::vector<int32_t>{0});
}

TEST(LayerSelectorTest, ModelScopeTensorsOnlyMatchAll) {
  EXPECT_TRUE(layers::kAll.Selects(-1, 30));
  EXPECT_FALSE(layers::kMoreBits.Selects(-1, 30));
  EXPECT_FALSE(layers::First(2, "first 2").Selects(-1, 30));
}

TEST(LayerSelectorTest, DescribeListsTheResolvedLayers) {
  // SmolLM2 (30 layers): n/8 = 3, 7n/8 = 26, and every third from 3 + 2 = 5.
  EXPECT_EQ(layers::kMoreBits.Resolve(30),
            (std::vector<int32_t>{0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29}));
  EXPECT_NE(layers::kMoreBits.Describe(30).find("(0-2, 5, 8, 11, 14, 17, 20, 23, 26-29 of 30)"),
            std::string::npos)
      << layers::kMoreBits.Describe(30);
  EXPECT_EQ(layers::kAll.Describe(30), "all layers");
}

}  // namespace
}  // namespace shrink
