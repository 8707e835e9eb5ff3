#include "cli/resources.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <vector>

namespace shrink::cli {

Status CheckTrainedContext(std::string_view what, int64_t positions, int32_t context_length,
                           bool allow_long_context) {
  if (positions <= context_length || allow_long_context) return Status::Ok();
  return Status::Errorf(
      "{} needs {} positions, beyond the model's trained context of {} tokens; "
      "--allow-long-context runs past it (quality degrades and memory grows with the context)",
      what, positions, context_length);
}

double PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<double>(pages) * static_cast<double>(page_size);
}

std::string FormatBytes(double bytes) {
  constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 6) bytes /= 1000, ++unit;
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

Status CheckFitsInMemory(std::string_view what, std::span<const Allocation> allocations,
                         double physical_bytes) {
  double total = 0;
  std::vector<std::string> parts;
  for (const Allocation& a : allocations) {
    if (a.bytes <= 0) continue;
    total += a.bytes;
    parts.push_back(fmt::format("{} {}", a.what, FormatBytes(a.bytes)));
  }
  if (physical_bytes <= 0 || total <= physical_bytes) return Status::Ok();
  return Status::Errorf("{} needs about {} ({}), more than the {} of physical memory", what,
                        FormatBytes(total), fmt::join(parts, ", "), FormatBytes(physical_bytes));
}

Status CheckOutputFolder(const std::string& out_path) {
  const std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return Status::Errorf("{}: the output folder '{}' does not exist", out_path, parent.string());
  }
  return Status::Ok();
}

}  // namespace shrink::cli
