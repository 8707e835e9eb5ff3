// ImatrixCollector on hand-made inputs; calib_oracle_test.cc checks it on a real model.
#include "calib/imatrix.h"

#include <gtest/gtest.h>

#include <vector>

namespace shrink {
namespace {

TEST(ImatrixTest, SumsSquaresPerColumnAndCountsRows) {
  ImatrixCollector imatrix;
  // Small integers: every sum is exact.
  const std::vector<float> a = {1, -2, 3,  // x: (2, 3)
                                4, 0,  -1};
  const std::vector<float> b = {2, 2, 2};  // x: (1, 3)
  imatrix.OnLinearInput(3, TensorRole::kFfnUp, a, 2);
  imatrix.OnLinearInput(3, TensorRole::kFfnUp, b, 1);
  const ImatrixEntry* e = imatrix.Find("blk.3.ffn_up.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->sum_sq, (std::vector<double>{1 + 16 + 4, 4 + 0 + 4, 9 + 1 + 4}));
  EXPECT_EQ(e->rows, 3);
  EXPECT_EQ(imatrix.entries().size(), 1u);
}

TEST(ImatrixTest, KeysByTensorAndRole) {
  // Q, K and V see the same x, each under its own role: three entries.
  ImatrixCollector imatrix;
  const std::vector<float> x = {1, 2};
  for (TensorRole role : {TensorRole::kAttnQ, TensorRole::kAttnK, TensorRole::kAttnV}) {
    imatrix.OnLinearInput(0, role, x, 1);
  }
  imatrix.OnLinearInput(1, TensorRole::kAttnQ, x, 1);
  std::vector<std::string> names;
  for (const auto& [name, entry] : imatrix.entries()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"blk.0.attn_k.weight", "blk.0.attn_q.weight",
                                             "blk.0.attn_v.weight", "blk.1.attn_q.weight"}));
  EXPECT_EQ(imatrix.Find("blk.2.attn_q.weight"), nullptr);
}

TEST(ImatrixTest, SkipsOutputUnlessAsked) {
  // llama.cpp's imatrix collects output.weight only with --process-output.
  const std::vector<float> x = {1, 2, 3, 4};
  ImatrixCollector by_default;
  by_default.OnLinearInput(-1, TensorRole::kOutput, x, 2);
  EXPECT_TRUE(by_default.entries().empty());

  ImatrixCollector with_output(AllLinears);
  with_output.OnLinearInput(-1, TensorRole::kOutput, x, 2);
  const ImatrixEntry* e = with_output.Find("output.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->sum_sq, (std::vector<double>{1 + 9, 4 + 16}));
  EXPECT_EQ(e->rows, 2);
}

TEST(ImatrixTest, FilterSelectsRoles) {
  ImatrixCollector down_only([](int, TensorRole role) { return role == TensorRole::kFfnDown; });
  const std::vector<float> x = {1, 2};
  down_only.OnLinearInput(0, TensorRole::kFfnUp, x, 1);
  down_only.OnLinearInput(0, TensorRole::kFfnDown, x, 1);
  down_only.OnLinearInput(4, TensorRole::kFfnDown, x, 2);
  ASSERT_EQ(down_only.entries().size(), 2u);
  EXPECT_EQ(down_only.Find("blk.4.ffn_down.weight")->rows, 2);
}

}  // namespace
}  // namespace shrink
