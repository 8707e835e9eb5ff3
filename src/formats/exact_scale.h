// The exactly optimal step of a symmetric block grid with arbitrary levels.
//
// A block-32 format with one scale (Q4_0, Q5_0, IQ4_NL; Q8_0 too) stores y_i = s * L[c_i], codes c_i
// into a fixed ascending level table L (Q4_0: -8..7, IQ4_NL: its 16 non-uniform values). ggml's
// encoders try the extreme's step and, given an imatrix, 18 nearby steps (scale_search.h). The
// weighted error
//     E(s) = sum_i w_i (x_i - s * L[c_i(s)])^2,   c_i(s) = the level nearest x_i / s,
// is piecewise quadratic in s, and the codes change only where some x_i / s crosses a midpoint between
// adjacent levels. FitScaleExactly sweeps t = 1/s upward through every such crossing (n * |L|
// events per sign of s, sorted), keeping the sums A = sum w x L[c] and B = sum w L[c]^2 current; for
// each set of codes the best step is A / B and lowers E by A^2 / B. The largest gain over all code
// sets (both signs of s) is the global minimum of E over s, so no step does better; the returned
// step re-rounded to nearest codes can only lower the error further.
//
// Cost: O(n |L| log(n |L|)) per block (~2 * 32 * 16 events for IQ4_NL), about 20x ggml's search.
#pragma once

#include <cstdint>
#include <span>

#include "formats/types.h"

namespace shrink {

// The step s minimising sum_i w_i (x_i - s * levels[c_i])^2 over all s (either sign) with nearest
// codes. `levels` ascending, at least 2 entries. Returns 0 when every x_i (or w_i) is 0.
//   x, w: (n), w_i >= 0.
float FitScaleExactly(const float* x, const float* w, int n, std::span<const float> levels);

// The index of the level nearest v (the lower one on a tie). `levels` ascending.
int NearestLevel(float v, std::span<const float> levels);

// Whether EncodeRowExactScale can encode `type`: a one-scale block format (its grid has set_scale:
// Q4_0, Q5_0, IQ4_NL).
bool HasExactScaleEncoder(const TypeTraits& type);

// Encodes ONE row of n elements (REQUIRES: n % block_elements == 0, HasExactScaleEncoder) into
// blocks: each block's step is FitScaleExactly's under the weights w_i = importance_i ·
// sqrt(row_mean_square + x_i²) (ggml's importance weighting of the legacy types; importance_i = 1
// when `importance` is null), stored as F16, and every element takes the code whose level is
// nearest under that stored step (formats/block_grid.h). The file format is unchanged: any decoder
// reads the result.
void EncodeRowExactScale(const TypeTraits& type, const float* in, uint8_t* blocks, int64_t n,
                         const float* importance);

}  // namespace shrink
