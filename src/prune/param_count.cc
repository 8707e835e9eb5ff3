#include "prune/param_count.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace shrink {

Result<int64_t> ParseParamCount(std::string_view flag, std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  double scale = 1;
  bool ok = ec == std::errc() && std::isfinite(value) && value > 0;
  if (ok && ptr != end) {
    const std::string_view suffix(ptr, static_cast<size_t>(end - ptr));
    if (suffix == "K" || suffix == "k") {
      scale = 1e3;
    } else if (suffix == "M" || suffix == "m") {
      scale = 1e6;
    } else if (suffix == "G" || suffix == "g" || suffix == "B" || suffix == "b") {
      scale = 1e9;
    } else {
      ok = false;
    }
  }
  if (!ok || value * scale >= 9e18 || value * scale < 1) {
    return Status::Errorf(
        "{} \"{}\": expected a positive parameter count such as 100M, 1.5G, 800K or 250000", flag,
        text);
  }
  return static_cast<int64_t>(std::llround(value * scale));
}

}  // namespace shrink
