#include "prune/sparsity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "prune/wanda.h"

namespace shrink {
namespace {

std::vector<float> Pruned(std::vector<float> row, std::vector<float> scale, const SparsityTarget& t,
                          RowPruneStats* stats = nullptr) {
  std::vector<int32_t> scratch;
  const RowPruneStats s = PruneRow(row, scale, t, scratch);
  if (stats != nullptr) *stats = s;
  return row;
}

// By construction: magnitude ranks |w| = 1, 2, 3, 4 and removes columns 0 and 1 at 50%; Wanda's
// scores |w|·‖X_j‖ = 1·4, 2·1, 3·1, 4·0.1 = 4, 2, 3, 0.4 remove columns 3 and 1.
TEST(PruneRowTest, WandaRemovesTheLowestActivationWeightedScores) {
  const std::vector<float> row = {1.0f, -2.0f, 3.0f, -4.0f};
  RowPruneStats stats;
  EXPECT_THAT(Pruned(row, {}, {.sparsity = 0.5}, &stats),
              ::testing::ElementsAre(0.0f, 0.0f, 3.0f, -4.0f));
  EXPECT_EQ(stats.kept, 2);
  EXPECT_DOUBLE_EQ(stats.threshold, 2.0);  // |−2|, the larger of the two removed
  EXPECT_THAT(Pruned(row, {4.0f, 1.0f, 1.0f, 0.1f}, {.sparsity = 0.5}, &stats),
              ::testing::ElementsAre(1.0f, 0.0f, 3.0f, 0.0f));
  EXPECT_EQ(stats.kept, 2);
  EXPECT_DOUBLE_EQ(stats.threshold, 2.0);  // score of column 1: 2·1
}

// Wanda's ‖X_j‖₂ from an imatrix entry: sqrt(Σ x²), here sqrt(9 + 16) = 5 and sqrt(0 + 1) = 1.
TEST(WandaColumnScaleTest, IsTheColumnNormOfTheCalibrationRows) {
  ImatrixEntry e;
  e.sum_sq = {25.0, 1.0};
  e.rows = 2;
  EXPECT_THAT(WandaColumnScale(e), ::testing::ElementsAre(5.0f, 1.0f));
}

TEST(PruneRowTest, SparsityRemovesFloorOfTheFractionPerRow) {
  // 10 columns at 35%: floor(3.5) = 3 removed, the three smallest magnitudes (columns 2, 5, 7).
  const std::vector<float> row = {5, -6, 0.5f, 7, 8, -0.25f, 9, 1, 10, 11};
  RowPruneStats stats;
  EXPECT_THAT(Pruned(row, {}, {.sparsity = 0.35}, &stats),
              ::testing::ElementsAre(5, -6, 0, 7, 8, 0, 9, 0, 10, 11));
  EXPECT_EQ(stats.kept, 7);
  // Sparsity 0 removes nothing and reports no threshold.
  EXPECT_EQ(Pruned(row, {}, {.sparsity = 0.0}, &stats), row);
  EXPECT_EQ(stats.kept, 10);
  EXPECT_EQ(stats.threshold, -1.0);
}

TEST(PruneRowTest, TiesAreBrokenByColumn) {
  // Four equal magnitudes, half removed: the two lowest columns go.
  EXPECT_THAT(Pruned({2, -2, 2, -2}, {}, {.sparsity = 0.5}), ::testing::ElementsAre(0, 0, 2, -2));
}

// N:M keeps exactly N per group of M, and they are the group's N highest scores.
TEST(PruneRowTest, PatternKeepsExactlyNOfEveryM) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (const auto& [n, m] : {std::pair{2, 4}, std::pair{1, 4}, std::pair{3, 8}, std::pair{4, 8}}) {
    std::vector<float> row(64), scale(64);
    for (float& v : row) v = normal(rng);
    for (float& v : scale) v = std::abs(normal(rng)) + 0.01f;
    RowPruneStats stats;
    const std::vector<float> out = Pruned(row, scale, {.n = n, .m = m}, &stats);
    EXPECT_EQ(stats.kept, 64 / m * n);
    for (int g = 0; g < 64; g += m) {
      std::vector<float> scores;
      for (int j = g; j < g + m; ++j) scores.push_back(std::abs(row[j]) * scale[j]);
      std::vector<float> sorted = scores;
      std::sort(sorted.begin(), sorted.end(), std::greater<>());
      int kept = 0;
      for (int j = g; j < g + m; ++j) {
        if (out[j] != 0.0f) {
          ++kept;
          EXPECT_EQ(out[j], row[j]);
          EXPECT_GE(scores[j - g], sorted[n - 1]) << n << ":" << m << " column " << j;
        }
      }
      EXPECT_EQ(kept, n) << n << ":" << m << " group at " << g;
    }
  }
}

TEST(SparsityFlagsTest, BadValuesAreOneLineErrors) {
  EXPECT_FALSE(CheckSparsity(1.0).ok());
  EXPECT_FALSE(CheckSparsity(-0.1).ok());
  EXPECT_FALSE(CheckSparsity(std::nan("")).ok());
  EXPECT_TRUE(CheckSparsity(0.0).ok());
  EXPECT_TRUE(CheckSparsity(0.99).ok());
  EXPECT_THAT(ParsePattern("4:4").status().ToString(), ::testing::HasSubstr("less than M"));
  EXPECT_THAT(ParsePattern("5:4").status().ToString(), ::testing::HasSubstr("less than M"));
  EXPECT_FALSE(ParsePattern("2").ok());
  EXPECT_FALSE(ParsePattern("0:4").ok());
  EXPECT_FALSE(ParsePattern("2:x").ok());
  const Result<SparsityTarget> t = ParsePattern("2:4");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->n, 2);
  EXPECT_EQ(t->m, 4);
  EXPECT_DOUBLE_EQ(t->removed_fraction(), 0.5);
  EXPECT_THAT(CheckPatternFits(*ParsePattern("2:5"), 576, "blk.0.attn_q.weight").ToString(),
              ::testing::HasSubstr("rows of 576, not whole groups of 5"));
  EXPECT_TRUE(CheckPatternFits(*t, 576, "x").ok());
}

}  // namespace
}  // namespace shrink
