// HessianCollector on hand-made inputs; calib_oracle_test.cc checks it on a real model.
#include "calib/hessian.h"

#include <gtest/gtest.h>

#include <vector>

#include "calib/gram.h"

namespace shrink {
namespace {

TEST(HessianTest, CollectsOnlySelectedTensorOverBatches) {
  HessianCollector hessian(OnlyTensor(1, TensorRole::kFfnDown));
  // Small integers: every sum is exact, in any order.
  const std::vector<float> x = {1,  2, -1,  // row 0: first batch
                                0,  3, 2,   // row 1: first batch
                                -2, 1, 1};  // row 2: second batch

  hessian.OnLinearInput(0, TensorRole::kFfnDown, x, 3);  // other layer
  hessian.OnLinearInput(1, TensorRole::kFfnUp, x, 3);    // other role
  hessian.OnLinearInput(1, TensorRole::kFfnDown, std::span(x).first(6), 2);
  hessian.OnLinearInput(1, TensorRole::kFfnDown, std::span(x).subspan(6), 1);
  ASSERT_EQ(hessian.entries().size(), 1u);
  const GramEntry* e = hessian.Find("blk.1.ffn_down.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->cols, 3);
  EXPECT_EQ(e->rows, 3);
  std::vector<double> expected(9, 0.0);
  reference::AccumulateGram(x, 3, 3, expected);
  EXPECT_EQ(e->xtx, expected);
}

TEST(HessianTest, GptqHessianIsTwiceTheMeanGram) {
  const GramEntry e = {.cols = 2, .xtx = {4, -2, -2, 8}, .rows = 4};
  EXPECT_EQ(GptqHessian(e), (std::vector<double>{2, -1, -1, 4}));
}

}  // namespace
}  // namespace shrink
