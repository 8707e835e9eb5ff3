#include "quant/method.h"

#include <array>

namespace shrink {
namespace {

constexpr std::array<QuantMethodInfo, 4> kMethods = {{
    {QuantMethod::kRtn, "rtn", false, false, false, true},
    {QuantMethod::kGptq, "gptq", true, false, true, true},
    {QuantMethod::kAwq, "awq", true, true, false, true},
    {QuantMethod::kAwqGptq, "awq+gptq", true, true, true, true},
}};

}  // namespace

std::span<const QuantMethodInfo> QuantMethods() { return kMethods; }

std::string QuantMethodNames() {
  std::string out;
  for (const QuantMethodInfo& m : kMethods) {
    if (!out.empty()) out += ", ";
    out += m.name;
  }
  return out;
}

Result<const QuantMethodInfo*> FindQuantMethod(std::string_view name) {
  for (const QuantMethodInfo& m : kMethods) {
    if (m.name != name) continue;
    if (!m.available) {
      return Status::Errorf("--method {}: not built yet", name);
    }
    return &m;
  }
  return Status::Errorf("--method {}: unknown method (valid: {})", name, QuantMethodNames());
}

}  // namespace shrink
