#include "kernels/blas_setup.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace shrink {

const char* BlasCoreName() { return openblas_get_corename(); }

bool SubcommandUsesBlas(int argc, char** argv) {
  if (argc < 2 || argv[1] == nullptr) return false;
  for (const char* name : {"train", "quantize"}) {
    if (std::strcmp(argv[1], name) == 0) return true;
  }
  return false;
}

void ReexecForFasterBlas(char** argv) {
#if defined(__x86_64__) || defined(__i386__)  // Prescott and the cores below are x86 names
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // chosen already (by us or the user)
  if (std::strcmp(BlasCoreName(), "Prescott") != 0) return;
  const char* core = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    core = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    core = "Haswell";
  }
  if (core == nullptr) return;
  if (setenv("OPENBLAS_CORETYPE", core, /*overwrite=*/1) != 0) return;
  execv("/proc/self/exe", argv);
  // execv failed: continue with the slow kernels (OPENBLAS_CORETYPE stays set, so no loop).
#else
  (void)argv;
#endif
}

}  // namespace shrink
