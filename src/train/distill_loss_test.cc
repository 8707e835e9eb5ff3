// The fused distillation loss (train/ops.h DistillForwardBackward) against central differences
// of its forward (train/grad_check_test_util.h explains the tolerance), and its two limits
// against the separate KL and cross-entropy ops.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/grad_check_test_util.h"
#include "train/ops.h"

namespace shrink::train {
namespace {

using testing::ExpectGradient;
using testing::LossValue;
using testing::RandomVector;

constexpr int64_t kN = 3, kV = 9;

void CheckDistillGradient(const DistillLoss& loss) {
  const float scale = 0.7f;
  std::vector<float> z = RandomVector(kN * kV, 31, 2.0f), t = RandomVector(kN * kV, 32, 2.0f);
  const std::vector<int32_t> targets = {4, 0, 8};
  std::vector<float> kl(kN), ce(kN), dz = z;
  DistillForwardBackward(dz.data(), kl.data(), ce.data(), t.data(), targets.data(), kN, kV, loss,
                         scale);
  ExpectGradient(
      "z", z, dz,
      [&] {
        std::vector<float> work = z;
        const DistillLossSums s = DistillForwardBackward(
            work.data(), kl.data(), ce.data(), t.data(), targets.data(), kN, kV, loss, scale);
        const double value = scale * (loss.alpha * s.kl + (1.0 - loss.alpha) * s.ce);
        return LossValue{value, scale * (std::fabs(s.kl) + std::fabs(s.ce))};
      },
      kV);
}

TEST(DistillLossTest, ForwardKlPlusCrossEntropyGradient) {
  CheckDistillGradient({.alpha = 0.3f, .tau = 2.0f});
}
TEST(DistillLossTest, ReverseKlPlusCrossEntropyGradient) {
  CheckDistillGradient({.alpha = 0.6f, .tau = 1.5f, .reverse = true});
}
TEST(DistillLossTest, ReverseKlOnlyGradient) {
  CheckDistillGradient({.alpha = 1.0f, .tau = 1.0f, .reverse = true});
}

// alpha = 1 is the KL op, alpha = 0 the cross-entropy op, value and gradient: the fused loop
// computes the same F64 row sums in the same order, so they agree to F32 rounding of the
// final products.
TEST(DistillLossTest, LimitsMatchTheSeparateOps) {
  const float tau = 2.0f, scale = 0.5f;
  std::vector<float> z = RandomVector(kN * kV, 41, 2.0f), t = RandomVector(kN * kV, 42, 2.0f);
  const std::vector<int32_t> targets = {1, 7, 3};
  std::vector<float> kl(kN), ce(kN), losses(kN);

  std::vector<float> fused = z, separate = z;
  const DistillLossSums s1 =
      DistillForwardBackward(fused.data(), kl.data(), ce.data(), t.data(), nullptr, kN, kV,
                             {.alpha = 1.0f, .tau = tau}, scale);
  const double kl_sum =
      KlDivergenceForwardBackward(separate.data(), losses.data(), t.data(), kN, kV, tau, scale);
  EXPECT_NEAR(s1.kl, kl_sum, 1e-5 * std::fabs(kl_sum));
  for (size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(fused[i], separate[i], 1e-6f) << i;

  fused = z;
  separate = z;
  const DistillLossSums s0 =
      DistillForwardBackward(fused.data(), kl.data(), ce.data(), t.data(), targets.data(), kN, kV,
                             {.alpha = 0.0f, .tau = tau}, scale);
  const double ce_sum =
      CrossEntropyForwardBackward(separate.data(), losses.data(), targets.data(), kN, kV, scale);
  EXPECT_NEAR(s0.ce, ce_sum, 1e-5 * std::fabs(ce_sum));
  for (size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(fused[i], separate[i], 1e-6f) << i;
}

// Reverse KL against its definition, computed here in F64 from scratch; both KLs vanish when
// the student is the teacher.
TEST(DistillLossTest, ReverseKlValue) {
  const float tau = 1.5f;
  std::vector<float> z = RandomVector(kN * kV, 51, 2.0f), t = RandomVector(kN * kV, 52, 2.0f);
  std::vector<float> kl(kN), ce(kN), work = z;
  DistillForwardBackward(work.data(), kl.data(), ce.data(), t.data(), nullptr, kN, kV,
                         {.alpha = 1.0f, .tau = tau, .reverse = true}, 1.0f);
  for (int64_t n = 0; n < kN; ++n) {
    double sz = 0, st = 0;
    for (int64_t v = 0; v < kV; ++v) {
      sz += std::exp(z[n * kV + v] / double{tau});
      st += std::exp(t[n * kV + v] / double{tau});
    }
    double expected = 0;
    for (int64_t v = 0; v < kV; ++v) {
      const double q = std::exp(z[n * kV + v] / double{tau}) / sz;
      const double p = std::exp(t[n * kV + v] / double{tau}) / st;
      expected += q * std::log(q / p);
    }
    EXPECT_NEAR(kl[n], tau * tau * expected, 1e-5 * (1 + expected)) << n;
  }
  for (bool reverse : {false, true}) {
    std::vector<float> same = t;
    const DistillLossSums s =
        DistillForwardBackward(same.data(), kl.data(), ce.data(), t.data(), nullptr, kN, kV,
                               {.alpha = 1.0f, .tau = tau, .reverse = reverse}, 1.0f);
    EXPECT_NEAR(s.kl, 0.0, 1e-6);
    for (float d : same) EXPECT_NEAR(d, 0.0f, 1e-6f);
  }
}

}  // namespace
}  // namespace shrink::train
