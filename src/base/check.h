// SHRINK_CHECK: aborts on a broken internal invariant (a bug in shrink, never bad user input; bad input
// is reported with Status, see status.h).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace shrink::internal {
[[noreturn]] inline void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "fatal: check failed: %s at %s:%d\n", condition, file, line);
  std::abort();
}
}  // namespace shrink::internal

#define SHRINK_CHECK(condition)                                                        \
  do {                                                                                 \
    if (!(condition)) ::shrink::internal::CheckFailed(#condition, __FILE__, __LINE__); \
  } while (0)
