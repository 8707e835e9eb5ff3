#include "base/status.h"

#include <gtest/gtest.h>

namespace shrink {
namespace {

Result<int> ParsePositive(int x) {
  if (x <= 0) return Status::Errorf("expected a positive number, got {}", x);
  return x;
}

Result<int> Doubled(int x) {
  SHRINK_ASSIGN_OR_RETURN(int v, ParsePositive(x));
  return 2 * v;
}

TEST(StatusTest, ErrorCarriesContextOutsideIn) {
  Status s =
      Status::Error("offset 12 past end").WithContext("tensor a").WithContext("reading f.gguf");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "reading f.gguf: tensor a: offset 12 past end");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

TEST(StatusTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Doubled(4), 8);
  Result<int> r = Doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "expected a positive number, got -1");
}

}  // namespace
}  // namespace shrink
