// Picking OpenBLAS's kernels for CPUs its build does not recognize.
//
// Debian 12's OpenBLAS (0.3.21, DYNAMIC_ARCH) does not recognize newer Xeons (e.g. Sapphire Rapids
// behind a hypervisor's generic model name) and falls back to its SSE3 "Prescott" kernels, 4-5x
// slower than its AVX-512 "SkylakeX" ones on the same machine. OpenBLAS reads OPENBLAS_CORETYPE
// only while it loads, so the choice must be made before the process starts: ReexecForFasterBlas
// sets the variable to the best core this CPU supports and re-executes the program with the same
// arguments. Results do not change (same F32 products, different blocking); only speed does.
#pragma once

namespace shrink {

// The kernel set OpenBLAS chose ("SkylakeX", "Haswell", "Prescott", ...).
const char* BlasCoreName();

// Whether the subcommand argv[1] makes large BLAS/LAPACK calls: training (train/ops.cc) and
// quantization with Hessians (quantize --method gptq, size budgets: calib/gram.cc,
// inverse_hessian.cc). Inference (generate, bench, perplexity, imatrix, ...) runs our own kernels
// only and never needs OpenBLAS's faster cores, nor the restart.
bool SubcommandUsesBlas(int argc, char** argv);

// When OpenBLAS chose its generic Prescott kernels, OPENBLAS_CORETYPE is unset and the CPU supports
// AVX-512 (SkylakeX) or AVX2+FMA (Haswell): sets OPENBLAS_CORETYPE and execv's /proc/self/exe with
// `argv`. Returns normally (doing nothing) otherwise or when execv fails. Call first thing in
// main(), and only for SubcommandUsesBlas.
void ReexecForFasterBlas(char** argv);

}  // namespace shrink
