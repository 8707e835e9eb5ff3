// Scale searches shared by the block encoders: given a group of n values x (and optional per-value
// importance w), choose the integer codes q and the step s (and, for the affine grids, the offset m)
// of a grid that represents x with little weighted squared error
//     E = sum_i w_i (x_i - y_i)^2,   y_i = s * q_i  or  y_i = s * q_i - m.
// Every search is deterministic and byte-compatible with ggml's quantizers (the k-quants, and the
// legacy types given an importance matrix): candidates are tried in ggml's order, all arithmetic
// is float32 with one rounding per operation in ggml's order (src/formats builds with
// -ffp-contract=off), and rounding to an integer is RoundHalfToEven. The prose is in
// docs/formats.md ("Encoders") and docs/numerics.md.
//
// Weights: where `w` may be null, null means w_i = x_i^2 (the encoders without an importance
// matrix weight the error of large values most).
#pragma once

#include <cstdint>

namespace shrink {

// The integer nearest to v, ties to even, as the float adder rounds: v + 1.5 * 2^23 lands in
// [2^23, 2^24), where floats are exactly the integers, so the sum is v rounded, and the integer is
// read off the mantissa. Valid for |v| < 2^22; beyond it the result wraps (it is what ggml's
// nearest_int gives there too, which is why we compute it the same way rather than call lrintf).
int RoundHalfToEven(float v);

// The weights the importance-aware encoders give the searches: out[i] = w[i] * sqrt(sigma2 + x[i]^2),
// the imatrix weight times a magnitude that does not vanish for small values (sigma2 is a mean
// square: of the row for the legacy types, of the super-block, or twice it, for the k-quants).
//   x, w, out: (n).
void ImportanceWeights(const float* x, const float* w, int n, float sigma2, float* out);

// Below this largest magnitude a group counts as all zero: its codes are 0 and its scale 0.
inline constexpr float kZeroGroupMax = 1e-15f;

// Symmetric grid y = s * (c - nmax), codes c in [0, 2 * nmax - 1] (signed q = c - nmax in
// [-nmax, nmax - 1]). Places the signed extreme `max` (the first value of largest magnitude) on
// q = -nmax, so the grid's wider side points at it, then tries 18 more reciprocal steps
// -(nmax + k / 10) / max, k = -9..9, k != 0. For each candidate's rounded codes the best step is
// the weighted least-squares s = sum w x q / sum w q^2, which lowers E by (sum w x q)^2 / sum w q^2;
// the candidate with the largest such gain wins (the first on ties). Returns s (0 for an all-zero
// group, whose codes are then all 0, not nmax). ggml: make_qx_quants with rmse_type 1.
//   x, w: (n); codes: (n) out.
float FitSymmetricScale(const float* x, const float* w, int n, int nmax, int8_t* codes);

// Symmetric grid as FitSymmetricScale with w_i = x_i^2, but refined differently: one rounding at
// the extreme's step, then up to 5 sweeps of coordinate descent that move single codes to the value
// that the rest of the group's least-squares step suggests, keeping a move only when it raises the
// gain. Returns s = sum w x q / sum w q^2 (0 if no code is nonzero or for an all-zero group, whose
// codes are all 0). ggml: make_q3_quants with do_rmse (Q3_K without an importance matrix).
//   x: (n); codes: (n) out, in [0, 2 * nmax - 1].
float FitSymmetricScaleRefined(const float* x, int n, int nmax, int8_t* codes);

// The candidate steps an affine search tries, and how it measures error.
struct AffineSearchGrid {
  float first_offset;   // the first candidate maps [min, max] onto nmax + first_offset steps
  float offset_step;    // each next candidate adds this many steps
  int steps;            // candidates after the first: offsets first + k * step, k = 0..steps
  bool absolute_error;  // E sums w |x - y| instead of w (x - y)^2
};

// The candidates every importance-weighted affine search tries (the k-quants and Q4_1/Q5_1 alike).
inline constexpr AffineSearchGrid kWeightedAffineGrid = {-0.9f, 0.05f, 36, false};

// Affine grid y = s * q - m with q in [0, nmax] and m >= 0 (the grid always reaches down to 0 or
// below, even for a group of positive values). Starts from the min-max grid with the min taken as
// min(x, 0): m = -min(x, 0), s = (max - min) / nmax; then for each candidate of `grid` rounds x onto the candidate step from
// the group's min and fits s and m to those codes by weighted least squares (with m clamped to >= 0
// and s refitted alone when the fit wants a positive offset), keeping the fit with the smallest E
// (strictly smaller: the first wins ties). Returns s and sets *neg_min = m. A constant group returns
// s = 0 with codes 0 and m = -min(x, 0). ggml: make_qkx2_quants / make_qkx3_quants (identical
// arithmetic; w null means x^2 as in the latter).
//   x, w: (n); codes: (n) out, in [0, nmax]. REQUIRES: n <= 32.
float FitScaleAndMin(const float* x, const float* w, int n, int nmax, const AffineSearchGrid& grid,
                     uint8_t* codes, float* neg_min);

// Grid y = s * q, q in [0, nmax], for non-negative x: the k-quants' super-block scales, which
// quantize the sub-block scales (or mins) to 4- or 6-bit codes. Tries the reciprocal steps
// (nmax + k / 10) / max, k = -4..4, by their weighted squared error (the k = 0 one kept unless
// another is strictly better), rounds x at the best, refines the codes by coordinate descent as
// FitSymmetricScaleRefined does (codes only move to values <= nmax) and returns the least-squares
// step for the final codes (0 if none is nonzero). A group whose max is below kZeroGroupMax gets
// codes 0 and step 0. ggml: make_qp_quants.
//   x, w: (n) with w_i >= 0; codes: (n) out. REQUIRES: n <= 32.
float FitPositiveScale(const float* x, const float* w, int n, int nmax, uint8_t* codes);

}  // namespace shrink
