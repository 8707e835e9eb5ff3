#include "calib/calibration_run.h"

#include <gtest/gtest.h>

namespace shrink {
namespace {

TEST(CalibrationRunTest, PlanTakesWholeChunks) {
  Result<CalibrationPlan> p = PlanCalibration(1000, 128, -1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->n_ctx, 128);
  EXPECT_EQ(p->n_chunk, 7);  // 1000 / 128, the partial last chunk dropped
  p = PlanCalibration(1000, 128, 3);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->n_chunk, 3);
  p = PlanCalibration(1000, 128, 50);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->n_chunk, 7);
  p = PlanCalibration(128, 128, -1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->n_chunk, 1);
}

TEST(CalibrationRunTest, PlanErrors) {
  Result<CalibrationPlan> p = PlanCalibration(300, 512, -1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "the text has 300 tokens, fewer than one chunk: --ctx 512 needs at least 512 tokens");
  EXPECT_FALSE(PlanCalibration(300, 0, -1).ok());
  EXPECT_FALSE(PlanCalibration(300, 10, 0).ok());
}

}  // namespace
}  // namespace shrink
