// K-quant encoders (contracts in k_quants.h, prose in docs/formats.md "Encoders").
//
// Every encoder has the same three stages:
//   1. per sub-block, a scale search (scale_search.h) picks a step (and min) and codes;
//   2. the sub-block steps (and mins) are themselves quantized, to 4-, 6- or 8-bit multiples of the
//      super-block's F16 `d` (and `dmin`);
//   3. every element is rounded again onto the grid of the *decoded* scales, so the codes fit the
//      scales the decoder will use (a sub-block whose decoded step is 0 keeps its stage-1 codes,
//      which then decode to its min alone).
// The unweighted encoders do stage 2 relative to the largest sub-block step; the weighted ones with
// FitPositiveScale weighted by each sub-block's total importance. Byte-identity with ggml needs its
// arithmetic order and types at every step (see scale_search.cc), and the integer conversions
// where ggml stores an int into a narrower byte.
#include <cmath>
#include <cstring>

#include "formats/float_types.h"
#include "formats/k_quants.h"
#include "formats/scale_search.h"

namespace shrink {
namespace {

// Candidate grids of the affine (scale + min) searches, as ggml tunes them per type.
constexpr AffineSearchGrid kQ2_KGrid = {-0.5f, 0.1f, 15, /*absolute_error=*/true};
constexpr AffineSearchGrid kQ4_KGrid = {-1.0f, 0.1f, 20, false};
constexpr AffineSearchGrid kQ5_KGrid = {-0.5f, 0.1f, 15, false};

float SumOf(const float* v, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += v[i];
  return s;
}

float SumOfSquares(const float* v, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += v[i] * v[i];
  return s;
}

// Rounds the 256 elements onto the affine grids y = d_s * q - m_s (sub-blocks of `group`
// elements, q in [0, qmax]); sub-blocks with d_s == 0 keep their codes.
void RequantizeAffine(const float* x, int group, const float* d, const float* m, int qmax,
                      uint8_t* codes) {
  for (int s = 0; s < kQK_K / group; ++s) {
    if (d[s] == 0) continue;
    for (int i = s * group; i < (s + 1) * group; ++i) {
      const int q = RoundHalfToEven((x[i] + m[s]) / d[s]);
      codes[i] = static_cast<uint8_t>(std::max(0, std::min(qmax, q)));
    }
  }
}

// Rounds onto symmetric grids y = d_s * (c - zero), c in [0, 2 * zero - 1] (sub-blocks of 16).
void RequantizeSymmetric(const float* x, const float* d, int zero, int8_t* codes) {
  for (int s = 0; s < kQK_K / 16; ++s) {
    if (d[s] == 0) continue;
    for (int i = 16 * s; i < 16 * (s + 1); ++i) {
      const int q = RoundHalfToEven(x[i] / d[s]);
      codes[i] = static_cast<int8_t>(std::max(-zero, std::min(zero - 1, q)) + zero);
    }
  }
}

// Low 2 bits of the 256 codes: element 128 * h + 32 * k + l goes to bits 2k of qs[32 * h + l].
template <typename Code>
void PackLow2Bits(const Code* codes, uint8_t* qs) {
  for (int k = 0; k < kQK_K / 4; ++k) qs[k] = 0;
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, k = (e / 32) % 4, l = e % 32;
    qs[32 * h + l] = static_cast<uint8_t>(qs[32 * h + l] | ((codes[e] & 3) << (2 * k)));
  }
}

// Q4_K/Q5_K nibbles: sub-block s element l is nibble s % 2 of qs[32 * (s / 2) + l]. With `qh`,
// bit 4 of the code goes to bit s of qh[l].
void PackNibbles(const uint8_t* codes, uint8_t* qs, uint8_t* qh) {
  if (qh != nullptr) std::memset(qh, 0, kQK_K / 8);
  for (int s = 0; s < 8; ++s) {
    for (int l = 0; l < 32; ++l) {
      const int c = codes[32 * s + l];
      uint8_t& byte = qs[32 * (s / 2) + l];
      byte = static_cast<uint8_t>(s % 2 == 0 ? (c & 15) : (byte | ((c & 15) << 4)));
      if (qh != nullptr && c > 15) qh[l] = static_cast<uint8_t>(qh[l] | (1 << s));
    }
  }
}

// ---- Q2_K: 16 sub-blocks of 16, 2-bit codes, 4-bit scales and mins -----------------------------

// Stage 3 and packing, shared by both Q2_K encoders once b.scales, b.d and b.dmin are set.
void FinishQ2_K(const float* x, uint8_t* codes, BlockQ2_K& b) {
  const float d = F16ToF32(b.d), dmin = F16ToF32(b.dmin);
  float dl[16], ml[16];
  for (int s = 0; s < 16; ++s) {
    dl[s] = d * static_cast<float>(b.scales[s] & 15);
    ml[s] = dmin * static_cast<float>(b.scales[s] >> 4);
  }
  RequantizeAffine(x, 16, dl, ml, 3, codes);
  PackLow2Bits(codes, b.qs);
}

// ---- Q3_K: 16 sub-blocks of 16, 3-bit codes (2 in qs, 1 in hmask), 6-bit signed scales ----------

void FinishQ3_K(const float* x, int8_t* codes, BlockQ3_K& b) {
  const float d = F16ToF32(b.d);
  float dl[16];
  for (int s = 0; s < 16; ++s) {
    dl[s] = d * static_cast<float>(static_cast<int8_t>(UnpackScaleQ3_K(b.scales, s) - 32));
  }
  RequantizeSymmetric(x, dl, 4, codes);
  // Codes 4..7 set their element's hmask bit (e / 32 of hmask[e % 32]) and keep the low 2 bits.
  std::memset(b.hmask, 0, sizeof(b.hmask));
  for (int e = 0; e < kQK_K; ++e) {
    if (codes[e] > 3) {
      b.hmask[e % 32] = static_cast<uint8_t>(b.hmask[e % 32] | (1 << (e / 32)));
      codes[e] = static_cast<int8_t>(codes[e] - 4);
    }
  }
  PackLow2Bits(codes, b.qs);
}

// ---- Q4_K / Q5_K: 8 sub-blocks of 32, 4- or 5-bit codes, 6-bit scales and mins ------------------

// Stage 3 and packing once b's d, dmin and scales are set; qh is null for Q4_K.
void FinishScaleMinK(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* scales, int qmax,
                     uint8_t* codes, uint8_t* qs, uint8_t* qh) {
  const float d = F16ToF32(d16), dmin = F16ToF32(dmin16);
  float dl[8], ml[8];
  for (int s = 0; s < 8; ++s) {
    uint8_t sc, m;
    UnpackScaleMinK4(scales, s, sc, m);
    dl[s] = d * static_cast<float>(sc);
    ml[s] = dmin * static_cast<float>(m);
  }
  RequantizeAffine(x, 32, dl, ml, qmax, codes);
  PackNibbles(codes, qs, qh);
}

// Unweighted stages 1 and 2 of Q4_K/Q5_K: each sub-block's search weighs element i by
// rms(sub-block) + |x_i|; steps and mins become 6-bit fractions of the largest ones.
template <typename Block>
void ScaleMinKUnweighted(const float* x, int qmax, const AffineSearchGrid& grid, uint8_t* codes,
                         Block& b) {
  float step[8], min[8], weights[32];
  float max_step = 0, max_min = 0;
  for (int s = 0; s < 8; ++s) {
    const float* xs = x + 32 * s;
    const float rms = std::sqrt(SumOfSquares(xs, 32) / 32);
    for (int i = 0; i < 32; ++i) weights[i] = rms + std::fabs(xs[i]);
    step[s] = FitScaleAndMin(xs, weights, 32, qmax, grid, codes + 32 * s, &min[s]);
    if (step[s] > max_step) max_step = step[s];
    if (min[s] > max_min) max_min = min[s];
  }
  const float inv_step = max_step > 0 ? 63.f / max_step : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t sc[8], m[8];
  for (int s = 0; s < 8; ++s) {
    // Stored into a byte first, then clamped: a negative rounding wraps to a large byte and so to
    // 63, as in ggml.
    sc[s] = std::min<uint8_t>(63, static_cast<uint8_t>(RoundHalfToEven(inv_step * step[s])));
    m[s] = std::min<uint8_t>(63, static_cast<uint8_t>(RoundHalfToEven(inv_min * min[s])));
  }
  PackScaleMinK4(sc, m, b.scales);
  b.d = F32ToF16(max_step / 63.f);
  b.dmin = F32ToF16(max_min / 63.f);
}

// Weighted stages 1 and 2 of Q4_K/Q5_K: sigma2 = 2 * mean square of the super-block; the 6-bit
// scales and mins come from FitPositiveScale weighted by each sub-block's summed importance.
// `clamp_codes`: Q5_K clamps the resulting codes to 63 (they never exceed it for non-negative
// steps), Q4_K stores them as they are; kept apart so that even a negative step packs like ggml's.
template <typename Block>
void ScaleMinKWeighted(const float* x, const float* w, int qmax, bool clamp_codes, uint8_t* codes,
                       Block& b) {
  const float sigma2 = 2 * SumOfSquares(x, kQK_K) / kQK_K;
  float step[8], min[8], weight_sum[8], weights[32];
  for (int s = 0; s < 8; ++s) {
    const float* xs = x + 32 * s;
    ImportanceWeights(xs, w + 32 * s, 32, sigma2, weights);
    weight_sum[s] = SumOf(weights, 32);
    step[s] = FitScaleAndMin(xs, weights, 32, qmax, kWeightedAffineGrid, codes + 32 * s, &min[s]);
  }
  uint8_t sc[8], m[8];
  const float d = FitPositiveScale(step, weight_sum, 8, 63, sc);
  const float dmin = FitPositiveScale(min, weight_sum, 8, 63, m);
  if (clamp_codes) {
    for (int s = 0; s < 8; ++s) {
      sc[s] = std::min<uint8_t>(63, sc[s]);
      m[s] = std::min<uint8_t>(63, m[s]);
    }
  }
  PackScaleMinK4(sc, m, b.scales);
  b.d = F32ToF16(d);
  b.dmin = F32ToF16(dmin);
}

// ---- Q6_K: 16 sub-blocks of 16, 6-bit codes, 8-bit signed scales ------------------------------

// w: the sub-blocks' search weights (null: x^2).
void EncodeQ6_K(const float* x, const float* w, BlockQ6_K& b) {
  int8_t codes[kQK_K];
  float step[16];
  float max_step = 0, max_abs_step = 0;
  for (int s = 0; s < 16; ++s) {
    step[s] =
        FitSymmetricScale(x + 16 * s, w != nullptr ? w + 16 * s : nullptr, 16, 32, codes + 16 * s);
    if (std::fabs(step[s]) > max_abs_step) {
      max_abs_step = std::fabs(step[s]);
      max_step = step[s];
    }
  }
  if (max_abs_step < kZeroGroupMax) {  // an all-zero super-block: every byte 0
    std::memset(&b, 0, sizeof(b));
    return;
  }
  // The largest step maps to scale -128 (the wider side of int8), as the sub-block searches map
  // their extremes.
  const float inv_step = -128.f / max_step;
  b.d = F32ToF16(1 / inv_step);
  for (int s = 0; s < 16; ++s) {
    b.scales[s] = static_cast<int8_t>(std::min(127, RoundHalfToEven(inv_step * step[s])));
  }
  const float d = F16ToF32(b.d);
  float dl[16];
  for (int s = 0; s < 16; ++s) dl[s] = d * static_cast<float>(b.scales[s]);
  RequantizeSymmetric(x, dl, 32, codes);
  // Element 128 * a + r: low nibble to nibble r / 64 of ql[64 * a + r % 64], high 2 bits to bits
  // 2 * (r / 32) of qh[32 * a + r % 32].
  std::memset(b.ql, 0, sizeof(b.ql));
  std::memset(b.qh, 0, sizeof(b.qh));
  for (int e = 0; e < kQK_K; ++e) {
    const int a = e / 128, r = e % 128, c = codes[e];
    uint8_t& low = b.ql[64 * a + r % 64];
    uint8_t& high = b.qh[32 * a + r % 32];
    low = static_cast<uint8_t>(low | ((c & 15) << (4 * (r / 64))));
    high = static_cast<uint8_t>(high | (((c >> 4) & 3) << (2 * (r / 32))));
  }
}

}  // namespace

void Q2_KFormat::EncodeBlock(const float* x, Block& b) {
  uint8_t codes[kQK_K];
  float step[16], min[16], weights[16];
  float max_step = 0, max_min = 0;
  for (int s = 0; s < 16; ++s) {
    const float* xs = x + 16 * s;
    for (int i = 0; i < 16; ++i) weights[i] = std::fabs(xs[i]);
    step[s] = FitScaleAndMin(xs, weights, 16, 3, kQ2_KGrid, codes + 16 * s, &min[s]);
    if (step[s] > max_step) max_step = step[s];
    if (min[s] > max_min) max_min = min[s];
  }
  // 4-bit fractions of the largest step and min; the int codes are stored into bytes as they are.
  if (max_step > 0) {
    const float inv = 15.f / max_step;
    for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(RoundHalfToEven(inv * step[s]));
    b.d = F32ToF16(max_step / 15.f);
  } else {
    std::memset(b.scales, 0, sizeof(b.scales));
    b.d = F32ToF16(0.f);
  }
  if (max_min > 0) {
    const float inv = 15.f / max_min;
    for (int s = 0; s < 16; ++s) {
      b.scales[s] = static_cast<uint8_t>(b.scales[s] | (RoundHalfToEven(inv * min[s]) << 4));
    }
    b.dmin = F32ToF16(max_min / 15.f);
  } else {
    b.dmin = F32ToF16(0.f);
  }
  FinishQ2_K(x, codes, b);
}

void Q2_KFormat::EncodeBlockWeighted(const float* x, const float* w, float /*row_mean_square*/,
                                     Block& b) {
  uint8_t codes[kQK_K];
  float step[16], min[16], weight_sum[16], weights[16];
  // Q2_K alone uses sigma2 = the mean square itself (the others take twice it).
  const float sigma2 = SumOfSquares(x, kQK_K) / kQK_K;
  for (int s = 0; s < 16; ++s) {
    const float* xs = x + 16 * s;
    ImportanceWeights(xs, w + 16 * s, 16, sigma2, weights);
    weight_sum[s] = SumOf(weights, 16);
    step[s] = FitScaleAndMin(xs, weights, 16, 3, kWeightedAffineGrid, codes + 16 * s, &min[s]);
  }
  uint8_t sc[16], m[16];
  b.d = F32ToF16(FitPositiveScale(step, weight_sum, 16, 15, sc));
  b.dmin = F32ToF16(FitPositiveScale(min, weight_sum, 16, 15, m));
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(sc[s] | (m[s] << 4));
  FinishQ2_K(x, codes, b);
}

void Q3_KFormat::EncodeBlock(const float* x, Block& b) {
  int8_t codes[kQK_K];
  float step[16];
  float max_step = 0, max_abs_step = 0;
  for (int s = 0; s < 16; ++s) {
    step[s] = FitSymmetricScaleRefined(x + 16 * s, 16, 4, codes + 16 * s);
    if (std::fabs(step[s]) > max_abs_step) {
      max_abs_step = std::fabs(step[s]);
      max_step = step[s];
    }
  }
  int biased[16] = {};
  if (max_step != 0) {
    // The largest step maps to scale -32 (the wider side of the 6-bit range).
    const float inv_step = -32.f / max_step;
    for (int s = 0; s < 16; ++s) {
      const auto q = static_cast<int8_t>(RoundHalfToEven(inv_step * step[s]));
      biased[s] = std::max<int8_t>(-32, std::min<int8_t>(31, q)) + 32;
    }
    PackScalesQ3_K(biased, b.scales);
    b.d = F32ToF16(1 / inv_step);
  } else {
    std::memset(b.scales, 0, sizeof(b.scales));
    b.d = F32ToF16(0.f);
  }
  FinishQ3_K(x, codes, b);
}

void Q3_KFormat::EncodeBlockWeighted(const float* x, const float* w, float /*row_mean_square*/,
                                     Block& b) {
  int8_t codes[kQK_K];
  float step[16], weight_sum[16], weights[16];
  const float sigma2 = 2 * SumOfSquares(x, kQK_K) / kQK_K;
  for (int s = 0; s < 16; ++s) {
    const float* xs = x + 16 * s;
    ImportanceWeights(xs, w + 16 * s, 16, sigma2, weights);
    weight_sum[s] = SumOf(weights, 16);
    step[s] = FitSymmetricScale(xs, weights, 16, 4, codes + 16 * s);
  }
  // The 16 steps are themselves a symmetric group: 6-bit codes, offset 32, weighted by importance.
  int8_t scale_codes[16];
  const float d = FitSymmetricScale(step, weight_sum, 16, 32, scale_codes);
  int biased[16];
  for (int s = 0; s < 16; ++s) biased[s] = scale_codes[s];
  PackScalesQ3_K(biased, b.scales);
  b.d = F32ToF16(d);
  FinishQ3_K(x, codes, b);
}

void Q4_KFormat::EncodeBlock(const float* x, Block& b) {
  uint8_t codes[kQK_K];
  ScaleMinKUnweighted(x, 15, kQ4_KGrid, codes, b);
  FinishScaleMinK(x, b.d, b.dmin, b.scales, 15, codes, b.qs, nullptr);
}

void Q4_KFormat::EncodeBlockWeighted(const float* x, const float* w, float /*row_mean_square*/,
                                     Block& b) {
  uint8_t codes[kQK_K];
  ScaleMinKWeighted(x, w, 15, /*clamp_codes=*/false, codes, b);
  FinishScaleMinK(x, b.d, b.dmin, b.scales, 15, codes, b.qs, nullptr);
}

void Q5_KFormat::EncodeBlock(const float* x, Block& b) {
  uint8_t codes[kQK_K];
  ScaleMinKUnweighted(x, 31, kQ5_KGrid, codes, b);
  FinishScaleMinK(x, b.d, b.dmin, b.scales, 31, codes, b.qs, b.qh);
}

void Q5_KFormat::EncodeBlockWeighted(const float* x, const float* w, float /*row_mean_square*/,
                                     Block& b) {
  uint8_t codes[kQK_K];
  ScaleMinKWeighted(x, w, 31, /*clamp_codes=*/true, codes, b);
  FinishScaleMinK(x, b.d, b.dmin, b.scales, 31, codes, b.qs, b.qh);
}

void Q6_KFormat::EncodeBlock(const float* x, Block& b) { EncodeQ6_K(x, nullptr, b); }

void Q6_KFormat::EncodeBlockWeighted(const float* x, const float* w, float /*row_mean_square*/,
                                     Block& b) {
  EncodeQ6_K(x, w, b);
}

}  // namespace shrink
