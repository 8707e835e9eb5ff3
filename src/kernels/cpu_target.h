// Which SIMD instruction set the kernels run on.
//
// Highway compiles every kernel for several targets (x86: SSE4, AVX2, AVX3 = AVX-512, AVX3_DL =
// AVX-512 with VNNI; plus HWY_SCALAR, where the scalar references run) and each op picks the best
// one the CPU supports when called. The environment variable SHRINK_CPU lowers that choice, for
// tests and for comparing targets on one machine:
//   SHRINK_CPU=scalar   the scalar reference kernels (what a CPU without SIMD would run)
//   SHRINK_CPU=sse4 | avx2 | avx3 | avx3_dl   that target (it must be compiled and supported)
// Unset or empty: the best target.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace shrink {

// Restricts dispatch to `name` and the targets below it (see above; "" restores the best).
// Errors (naming the value and the choices) when the name is unknown or the CPU lacks it.
Status SetCpuTarget(std::string_view name);

// Applies SHRINK_CPU once per process (later calls do nothing): called by the CLI first thing, so
// a bad value is a one-line error; the kernels call it too, and then warn about a bad value and
// keep the best target.
Status ApplyCpuTargetFromEnvironment();

// The target the kernels dispatch to now, as SHRINK_CPU spells it ("avx3_dl", "scalar").
std::string CpuTargetName();

}  // namespace shrink
