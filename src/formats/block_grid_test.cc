// The fixed-grid seam of every block type, checked against the type's own decoder: the level
// table, each SetCode, and RoundElement's nearest-level choice.
#include "formats/block_grid.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "formats/types.h"

namespace shrink {
namespace {

// One random block of `t`'s size, encoded by the grid's encoder with random importance. Values
// span both signs so scales and mins are exercised.
std::vector<uint8_t> RandomBlock(const TypeTraits& t, std::mt19937& rng, std::vector<float>& x) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.1f, 2.0f);
  const auto B = static_cast<size_t>(t.block_elements);
  x.resize(B);
  std::vector<float> w(B);
  for (size_t i = 0; i < B; ++i) {
    x[i] = normal(rng) + 0.3f;
    w[i] = uniform(rng);
  }
  float mean_square = 0;
  for (float v : x) mean_square += v * v / static_cast<float>(B);
  std::vector<uint8_t> block(static_cast<size_t>(t.block_bytes));
  t.grid->encode_block(x.data(), w.data(), mean_square, block.data());
  return block;
}

int TypesWithGrid() {
  int n = 0;
  for (const TypeTraits& t : AllTypes()) n += t.grid != nullptr;
  return n;
}

TEST(BlockGridTest, EveryQuantizedTypeWithAnEncoderHasAGrid) {
  // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS: everything quantize can write.
  EXPECT_EQ(TypesWithGrid(), 12);
  for (const TypeTraits& t : AllTypes()) {
    if (t.block_elements > 1 && t.encode != nullptr) {
      EXPECT_NE(t.grid, nullptr) << t.name;
    }
  }
}

TEST(BlockGridTest, SetCodeChangesOnlyItsElementToTheLevelTable) {
  std::mt19937 rng(11);
  for (const TypeTraits& t : AllTypes()) {
    if (t.grid == nullptr) continue;
    SCOPED_TRACE(t.name);
    const int64_t B = t.block_elements;
    const int L = t.grid->n_levels;
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<float> x;
      std::vector<uint8_t> block = RandomBlock(t, rng, x);
      std::vector<float> levels(static_cast<size_t>(L * B));
      t.grid->levels(block.data(), levels.data());
      std::vector<float> before(static_cast<size_t>(B));
      t.decode(block.data(), before.data(), B);
      // The encoder's own codes are on the grid: each decoded element is one of its levels.
      for (int64_t e = 0; e < B; ++e) {
        bool found = false;
        for (int q = 0; q < L && !found; ++q) found = levels[q * B + e] == before[e];
        ASSERT_TRUE(found) << "element " << e << " decodes to " << before[e] << ", not a level";
      }
      // Monotone in q (RoundElement's binary search needs it).
      for (int64_t e = 0; e < B; ++e) {
        const bool rising = levels[(L - 1) * B + e] >= levels[e];
        for (int q = 1; q < L; ++q) {
          const float a = levels[(q - 1) * B + e], b = levels[q * B + e];
          ASSERT_TRUE(rising ? b >= a : b <= a) << "element " << e << " code " << q;
        }
      }
      std::uniform_int_distribution<int> pick_e(0, static_cast<int>(B) - 1);
      std::uniform_int_distribution<int> pick_q(0, L - 1);
      for (int k = 0; k < 64; ++k) {
        const int e = pick_e(rng), q = pick_q(rng);
        std::vector<uint8_t> changed = block;
        t.grid->set_code(changed.data(), e, q);
        std::vector<float> after(static_cast<size_t>(B));
        t.decode(changed.data(), after.data(), B);
        for (int64_t i = 0; i < B; ++i) {
          ASSERT_EQ(after[i], i == e ? levels[q * B + e] : before[i])
              << "set_code(e=" << e << ", q=" << q << ") element " << i;
        }
      }
    }
  }
}

TEST(BlockGridTest, RoundElementPicksTheNearestLevelAndDecodesToIt) {
  std::mt19937 rng(12);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  for (const TypeTraits& t : AllTypes()) {
    if (t.grid == nullptr) continue;
    SCOPED_TRACE(t.name);
    const int64_t B = t.block_elements;
    const int L = t.grid->n_levels;
    std::vector<float> x;
    std::vector<uint8_t> block = RandomBlock(t, rng, x);
    std::vector<float> levels(static_cast<size_t>(L * B));
    t.grid->levels(block.data(), levels.data());
    std::vector<float> returned(static_cast<size_t>(B));
    std::vector<float> targets(static_cast<size_t>(B));
    for (int64_t e = 0; e < B; ++e) {
      targets[e] = normal(rng);  // anywhere, also outside the block's range (clamps to an end)
      returned[e] =
          RoundElement(*t.grid, levels.data(), B, block.data(), static_cast<int>(e), targets[e]);
      float best = INFINITY;
      for (int q = 0; q < L; ++q) best = std::fmin(best, std::fabs(levels[q * B + e] - targets[e]));
      ASSERT_EQ(std::fabs(returned[e] - targets[e]), best) << "element " << e;
    }
    std::vector<float> decoded(static_cast<size_t>(B));
    t.decode(block.data(), decoded.data(), B);
    EXPECT_EQ(decoded, returned);
  }
}

}  // namespace
}  // namespace shrink
