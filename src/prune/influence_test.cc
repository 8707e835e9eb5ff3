// Block influence (calib/residual_similarity.h) on streams whose cosines are known by construction.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "calib/residual_similarity.h"

namespace shrink {
namespace {

TEST(ResidualSimilarityTest, InfluenceIsOneMinusTheMeanCosine) {
  ResidualSimilarityCollector c;
  // Layer 0, two rows of C = 2: row 0 unchanged (cos 1), row 1 turned by 90° (cos 0): influence 0.5.
  const std::vector<float> in0 = {1, 0, 0, 2};
  const std::vector<float> out0 = {3, 0, 5, 0};
  c.OnResidual(0, ResidualPoint::kBlockInput, in0, 2);
  c.OnResidual(0, ResidualPoint::kBlockOutput, out0, 2);
  // Layer 1: one row (1, 1) → (1, 0): cos 1/√2; a zero row counts as cos 1. Mean (1/√2 + 1) / 2.
  const std::vector<float> in1 = {1, 1, 0, 0};
  const std::vector<float> out1 = {1, 0, 0, 0};
  c.OnResidual(1, ResidualPoint::kBlockInput, in1, 2);
  c.OnResidual(1, ResidualPoint::kBlockOutput, out1, 2);
  ASSERT_EQ(c.layers(), 2);
  EXPECT_EQ(c.rows(0), 2);
  EXPECT_NEAR(c.BlockInfluence(0), 0.5, 1e-15);
  EXPECT_NEAR(c.BlockInfluence(1), 1.0 - (1.0 / std::sqrt(2.0) + 1.0) / 2.0, 1e-15);
  // A second batch accumulates: layer 0 sees an unchanged row, mean cosine (1 + 0 + 1) / 3.
  const std::vector<float> same = {2, 2};
  c.OnResidual(0, ResidualPoint::kBlockInput, same, 1);
  c.OnResidual(0, ResidualPoint::kBlockOutput, same, 1);
  EXPECT_EQ(c.rows(0), 3);
  EXPECT_NEAR(c.BlockInfluence(0), 1.0 - 2.0 / 3.0, 1e-15);
}

}  // namespace
}  // namespace shrink
