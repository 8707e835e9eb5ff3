// The budget's sensitivity proxy (quant/sensitivity.h): candidate types per row length, the loss
// against an independent Q8_0 rounding written here from the format's definition (docs/formats.md:
// d = amax/127 stored as F16, q = round(x/d)), importance weighting, row sampling and threads.
#include "quant/sensitivity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace shrink {
namespace {

struct FakeTensor {
  std::vector<float> values;
  TensorView view;
  FakeTensor(int64_t cols, int64_t rows, uint32_t seed) : values(cols * rows) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 0.02f);
    for (float& v : values) v = g(rng);
    view.name = "blk.0.attn_q.weight";
    view.role = TensorRole::kAttnQ;
    view.layer = 0;
    view.type = TensorType::kF32;
    view.shape = {cols, rows};
    Rebind();
  }
  void Rebind() {
    view.data = {reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float)};
  }
};

bool Has(const std::vector<TensorType>& v, TensorType t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}

TEST(CandidateTypes, KQuantsOnlyWhereRowsAreMultiplesOf256) {
  const std::vector<TensorType> narrow = CandidateTypes(576);  // SmolLM2's width
  for (TensorType t : {TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                       TensorType::kQ6_K, TensorType::kIQ4_XS}) {
    EXPECT_FALSE(Has(narrow, t)) << Traits(t).name;
  }
  for (TensorType t : {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
                       TensorType::kQ8_0, TensorType::kIQ4_NL, TensorType::kF16}) {
    EXPECT_TRUE(Has(narrow, t)) << Traits(t).name;
  }
  const std::vector<TensorType> wide = CandidateTypes(1536);
  EXPECT_TRUE(Has(wide, TensorType::kQ2_K));
  EXPECT_TRUE(Has(wide, TensorType::kIQ4_XS));
  EXPECT_FALSE(Has(wide, TensorType::kF32));
  EXPECT_FALSE(Has(wide, TensorType::kQ8_K));
  EXPECT_EQ(wide.front(), TensorType::kQ2_K);  // 2.625 bits per weight, the fewest
  for (size_t i = 1; i < wide.size(); ++i) {
    EXPECT_LE(Traits(wide[i - 1]).bits_per_weight(), Traits(wide[i]).bits_per_weight());
  }
  EXPECT_EQ(CandidateTypes(100), std::vector<TensorType>{TensorType::kF16});
}

// Q8_0's squared error, computed from the format's definition rather than through the table.
double Q8_0Loss(const std::vector<float>& x, const std::vector<float>& imp, int64_t cols) {
  double loss = 0;
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::abs(x[b + i]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    const float d16 = static_cast<float>(static_cast<_Float16>(d));
    for (int i = 0; i < 32; ++i) {
      const float q = std::round(x[b + i] * id);
      const double e = static_cast<double>(x[b + i]) - static_cast<double>(q * d16);
      loss += imp[(b + i) % cols] * e * e;
    }
  }
  return loss;
}

TEST(MeasureSensitivity, Q8_0LossMatchesTheFormatsDefinition) {
  FakeTensor t(64, 8, 1);
  std::vector<float> imp(64);
  for (int j = 0; j < 64; ++j) imp[j] = 0.5f + 0.1f * j;
  // Q8_0 has no importance-weighted encoder, so weighting changes only the sum.
  const Result<TensorSensitivity> s = MeasureSensitivity(t.view, imp, 1.0, 1000);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->weighted);
  const auto q8 = std::find_if(s->candidates.begin(), s->candidates.end(),
                               [](const CandidateLoss& c) { return c.type == TensorType::kQ8_0; });
  ASSERT_NE(q8, s->candidates.end());
  EXPECT_EQ(q8->bytes, 8u * 2 * 34);  // 8 rows of two 34-byte blocks
  // The same rounding, summed in another order: a few ulps of a double sum.
  EXPECT_NEAR(q8->loss, Q8_0Loss(t.values, imp, 64), 1e-12 * q8->loss);
  // Uniform weights of 3: three times the plain squared error.
  const Result<TensorSensitivity> u = MeasureSensitivity(t.view, {}, 3.0, 1000);
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->weighted);
  const std::vector<float> ones(64, 1.0f);
  for (const CandidateLoss& c : u->candidates) {
    if (c.type == TensorType::kQ8_0) {
      EXPECT_NEAR(c.loss, 3.0 * Q8_0Loss(t.values, ones, 64), 1e-12 * c.loss);
    }
  }
}

TEST(MeasureSensitivity, FewerBitsLoseMore) {
  FakeTensor t(256, 16, 2);
  const Result<TensorSensitivity> s = MeasureSensitivity(t.view, {}, 1.0, 1000);
  ASSERT_TRUE(s.ok());
  auto loss = [&](TensorType type) {
    for (const CandidateLoss& c : s->candidates) {
      if (c.type == type) return c.loss;
    }
    ADD_FAILURE() << Traits(type).name;
    return 0.0;
  };
  EXPECT_GT(loss(TensorType::kQ2_K), loss(TensorType::kQ3_K));
  EXPECT_GT(loss(TensorType::kQ3_K), loss(TensorType::kQ4_K));
  EXPECT_GT(loss(TensorType::kQ4_0), loss(TensorType::kQ5_0));
  EXPECT_GT(loss(TensorType::kQ5_0), loss(TensorType::kQ8_0));
  EXPECT_GT(loss(TensorType::kQ8_0), loss(TensorType::kF16));
  EXPECT_GT(loss(TensorType::kF16), 0.0);  // N(0, 0.02) values are not all F16-exact
}

TEST(MeasureSensitivity, SampledRowsScaleToTheWholeTensor) {
  // Every row equals row 0, so any sample of rows, scaled, gives the whole tensor's loss.
  FakeTensor t(64, 16, 3);
  for (int r = 1; r < 16; ++r) std::memcpy(&t.values[r * 64], &t.values[0], 64 * sizeof(float));
  t.Rebind();
  const Result<TensorSensitivity> all = MeasureSensitivity(t.view, {}, 1.0, 16);
  const Result<TensorSensitivity> half = MeasureSensitivity(t.view, {}, 1.0, 8);
  ASSERT_TRUE(all.ok() && half.ok());
  for (size_t c = 0; c < all->candidates.size(); ++c) {
    EXPECT_NEAR(half->candidates[c].loss, all->candidates[c].loss, 1e-12 * all->candidates[c].loss);
  }
}

TEST(MeasureAll, SameResultsOnAnyThreadCount) {
  std::vector<FakeTensor> ts;
  for (uint32_t i = 0; i < 5; ++i) ts.emplace_back(64, 4 + i, 10 + i);
  for (FakeTensor& t : ts) t.Rebind();
  std::vector<SensitivityInput> in;
  for (const FakeTensor& t : ts) in.push_back({&t.view, {}, 1.0});
  SensitivityOptions one, three;
  three.threads = 3;
  const auto a = MeasureAll(in, one), b = MeasureAll(in, three);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*a)[i].tensor, &ts[i].view);
    for (size_t c = 0; c < (*a)[i].candidates.size(); ++c)
      EXPECT_EQ((*a)[i].candidates[c].loss, (*b)[i].candidates[c].loss);
  }
}

TEST(MeasureSensitivity, NonFiniteWeightIsAnError) {
  FakeTensor t(64, 4, 4);
  t.values[2 * 64 + 5] = std::nanf("");
  const Result<TensorSensitivity> s = MeasureSensitivity(t.view, {}, 1.0, 100);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("row 2, column 5"), std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace shrink
