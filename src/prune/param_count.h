// Parameter budgets as users write them (`--target-params 100M`), shared by width pruning
// (prune/width.h) and low-rank factors (prune/low_rank.h).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"

namespace shrink {

// "100M", "1.5G", "250000", "800K" → a parameter count (K/M/G, also k/m/g and B, are 10³/10⁶/10⁹).
// Errors name `flag`, the text and the expected form: a non-number, an unknown suffix, a count
// below 1 or at or above 9·10¹⁸.
Result<int64_t> ParseParamCount(std::string_view flag, std::string_view text);

}  // namespace shrink
