#include "kernels/cpu_target.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "hwy/highway.h"
#include "hwy/targets.h"

namespace shrink {
namespace {

struct NamedTarget {
  std::string_view name;
  int64_t bit;
};

// Best first (Highway: a lower bit is a better target).
constexpr NamedTarget kTargets[] = {
    {"avx3_dl", HWY_AVX3_DL}, {"avx3", HWY_AVX3},     {"avx2", HWY_AVX2},     {"sse4", HWY_SSE4},
    {"neon", HWY_NEON},       {"emu128", HWY_EMU128}, {"scalar", HWY_SCALAR},
};

std::string Choices() {
  std::string s;
  const int64_t compiled = HWY_TARGETS;
  hwy::DisableTargets(0);
  const int64_t supported = hwy::SupportedTargets();
  for (const NamedTarget& t : kTargets) {
    if ((compiled & supported & t.bit) == 0) continue;
    if (!s.empty()) s += ", ";
    s += t.name;
  }
  return s;
}

}  // namespace

Status SetCpuTarget(std::string_view name) {
  if (name.empty()) {
    hwy::DisableTargets(0);
    return Status::Ok();
  }
  for (const NamedTarget& t : kTargets) {
    if (t.name != name) continue;
    hwy::DisableTargets(0);
    if ((HWY_TARGETS & hwy::SupportedTargets() & t.bit) == 0) {
      return Status::Errorf("SHRINK_CPU={}: this build or CPU has no such target (choices: {})",
                            name, Choices());
    }
    hwy::DisableTargets(t.bit - 1);  // every better target
    return Status::Ok();
  }
  return Status::Errorf("SHRINK_CPU={}: unknown target (choices: {})", name, Choices());
}

Status ApplyCpuTargetFromEnvironment() {
  static std::once_flag once;
  Status status = Status::Ok();
  std::call_once(once, [&] {
    const char* value = std::getenv("SHRINK_CPU");
    if (value != nullptr) status = SetCpuTarget(value);
  });
  return status;
}

std::string CpuTargetName() {
  const int64_t chosen = hwy::SupportedTargets() & HWY_TARGETS;
  const int64_t best = chosen & -chosen;
  for (const NamedTarget& t : kTargets) {
    if (t.bit == best) return std::string(t.name);
  }
  return hwy::TargetName(best);
}

}  // namespace shrink
