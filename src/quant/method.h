// Quantization methods (`shrink quantize --method`): how a tensor's codes are chosen inside its
// planned type. One row per method, as data, so AWQ slots in by filling its row.
//
//   rtn       round to nearest with the format's scale search (imatrix-weighted with --imatrix)
//   gptq      GPTQ error feedback onto the format's grid (quant/gptq_model.h), needs calibration
//   awq       activation-aware channel scaling folded into the previous norm or linear (quant/awq.h),
//             then round to nearest, layer by layer (quant/gptq_model.h); needs calibration
//   awq+gptq  both: AWQ's scaling, then GPTQ on the scaled weights
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace shrink {

enum class QuantMethod { kRtn, kGptq, kAwq, kAwqGptq };

struct QuantMethodInfo {
  QuantMethod method;
  std::string_view name;
  bool needs_calibration;  // --calibration is required
  bool awq;                // applies AWQ scaling first
  bool gptq;               // rounds by GPTQ
  bool available;          // implemented in this build
};

std::span<const QuantMethodInfo> QuantMethods();
// "rtn, gptq, awq, awq+gptq"
std::string QuantMethodNames();
// The row named `name` (exact, lower case). Errors: an unknown name (listing the valid ones), a
// method not built yet.
Result<const QuantMethodInfo*> FindQuantMethod(std::string_view name);

}  // namespace shrink
