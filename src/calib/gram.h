// The Gram matrix G += xᵀx of a batch of rows, in F64: the sum behind the GPTQ / SparseGPT Hessian
// H = 2·XᵀX / n (hessian.h).
//
// AccumulateGram is OpenBLAS dsyrk on an F64 copy of x; reference::AccumulateGram is the plain
// triple loop it is tested against. Every product x[t][i]·x[t][j] of F32 values is exact in F64, so
// the two differ only by the order of the F64 additions.
#pragma once

#include <cstdint>
#include <span>

namespace shrink {

// x: (T, C) row-major F32; G: (C, C) row-major F64, symmetric on entry: G += xᵀx, i.e.
// G[i][j] += Σ_t x[t][i]·x[t][j], and G stays exactly symmetric.
// REQUIRES: x.size() == T·C, G.size() == C·C, T and C fit in int (BLAS dimensions).
void AccumulateGram(std::span<const float> x, int64_t T, int64_t C, std::span<double> G);

namespace reference {

// Same contract as shrink::AccumulateGram: loops, no BLAS, each entry summed over t in order.
void AccumulateGram(std::span<const float> x, int64_t T, int64_t C, std::span<double> G);

}  // namespace reference
}  // namespace shrink
