// Matrix products on weights as stored: the blocks of the mapped file are read in place, never
// decoded into a copy.
//
//   y: (T, rows) = x: (T, cols) · Wᵀ, over any row range, so a thread pool can split the rows.
//
// Integer formats (weight_units.h: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS) take
// activations quantized to 8-bit ActBlocks (activation_blocks.h) and multiply bytes (exact int32
// per 32-element unit, F32 scaling and accumulation); F32, F16 and BF16 weights take the F32
// activations directly (F32 accumulation). Every op dispatches once per call to the best SIMD
// target of this CPU (Highway; cpu_target.h can lower it), the scalar reference on HWY_SCALAR.
// Results for a given target do not depend on the row range a call covers.
#pragma once

#include <cstdint>

#include "formats/types.h"
#include "kernels/activation_blocks.h"
#include "kernels/matmul.h"

namespace shrink {

enum class BlockKernel {
  kNone,     // no in-place kernel for this type (decode it first)
  kInteger,  // quantize the activations to ActBlocks, then BlockMatMulRows
  kFloat,    // BlockMatMulRows on the F32 activations
};
BlockKernel BlockKernelFor(TensorType type);

// y[t · w.rows + r] for r in [r0, r1), t in [0, T). For kInteger types `xq` holds T rows of
// w.cols / 32 blocks (QuantizeActivations of x) and `x` is unused; for kFloat types `x`: (T, cols)
// and `xq` is unused. REQUIRES: BlockKernelFor(w.type) != kNone, 0 <= r0 <= r1 <= w.rows.
void BlockMatMulRows(const MatrixRef& w, const float* x, const ActBlock* xq, int64_t T, int64_t r0,
                     int64_t r1, float* y);

// The same product for prompt-sized batches of integer formats (block_gemm-inl.h): weight rows
// unpacked once per group and used for every activation row, register tiles of rows × activation
// rows. Inputs as BlockMatMulRows (`x` unused). Float formats' prompts use FloatGemm
// (float_gemm.h). A thread's scratch grows to one row group (a few KB per 256 columns). Results do
// not depend on the row range a call covers; for a given target they may differ from
// BlockMatMulRows' by F32 rounding (docs/numerics.md). REQUIRES: BlockKernelFor(w.type) ==
// kInteger.
void BlockGemmRows(const MatrixRef& w, const float* x, const ActBlock* xq, int64_t T, int64_t r0,
                   int64_t r1, float* y);

// out: ((r1 - r0), w.cols) = rows [r0, r1) of W decoded to F32, bit-identical to the formats
// table's decode (Traits(type).decode), for any type in the table (types without a SIMD decoder
// use that decode). REQUIRES: 0 <= r0 <= r1 <= w.rows.
void DecodeRows(const MatrixRef& w, int64_t r0, int64_t r1, float* out);

}  // namespace shrink
