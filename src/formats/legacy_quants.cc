#include "formats/legacy_quants.h"

#include <cmath>
#include <cstring>

#include "formats/float_types.h"
#include "formats/scale_search.h"

// Bit-exactness depends on every float operation rounding on its own: the formats layer is compiled
// with -ffp-contract=off (src/formats/CMakeLists.txt), so `x * id + 8.5f` is never fused into an
// FMA.

namespace shrink {
namespace {

constexpr int kQK = 32;

// The element with the largest magnitude, signed; the first one on ties (numpy argmax, ggml `<`).
float SignedAbsMax(const float* x) {
  float amax = std::fabs(x[0]);
  float max = x[0];
  for (int j = 1; j < kQK; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void MinMax(const float* x, float& min, float& max) {
  min = x[0];
  max = x[0];
  for (int j = 1; j < kQK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

float Reciprocal(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// trunc(v) clamped to [0, hi]; v is never NaN for finite inputs, but clamp in float first so an
// out-of-range value never reaches the integer conversion.
uint8_t TruncClamp(float v, int hi) {
  const float t = std::trunc(v);
  if (!(t > 0.0f)) return 0;
  if (t >= static_cast<float>(hi)) return static_cast<uint8_t>(hi);
  return static_cast<uint8_t>(t);
}

uint32_t LoadQh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof(v));
  return v;
}

// q: (32) 5-bit values -> low nibbles in qs (pairs j, j+16) and bit 4 of q[j] as bit j of qh.
void Pack5(const uint8_t* q, uint8_t* qs, uint8_t* qh) {
  uint32_t high = 0;
  for (int j = 0; j < kQK / 2; ++j)
    qs[j] = static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4));
  for (int j = 0; j < kQK; ++j) high |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &high, sizeof(high));
}

// The _1 formats' affine grid: x ≈ d·q + min with d = (max − min) / levels; id = 1/d (0 when d ==
// 0).
struct AffineScale {
  float d, id, min;
};
AffineScale AffineScaleOf(const float* x, float levels) {
  float min, max;
  MinMax(x, min, max);
  const float d = (max - min) / levels;
  return {d, Reciprocal(d), min};
}

// The inverse of Pack5: q[j] in [0, 31] for j in [0, 32).
void Unpack5(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
  const uint32_t qh = LoadQh(qh_bytes);
  for (int j = 0; j < kQK / 2; ++j) {
    q[j] = (qs[j] & 15) | static_cast<int>(((qh >> j) & 1) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
  }
}

// Importance-weighted symmetric block (Q4_0: nmax 8, Q5_0: 16): codes 0..2 nmax - 1 (zero point
// nmax), or all 0 for an all-zero block.
float WeightedSymmetric(const float* x, const float* w, float row_mean_square, int nmax,
                        uint8_t* q) {
  float weights[kQK];
  ImportanceWeights(x, w, kQK, row_mean_square, weights);
  int8_t codes[kQK];
  const float d = FitSymmetricScale(x, weights, kQK, nmax, codes);
  for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(codes[j]);
  return d;
}

// Importance-weighted affine block (Q4_1: nmax 15, Q5_1: 31): y = d * q + m with m = -neg_min.
float WeightedAffine(const float* x, const float* w, float row_mean_square, int nmax, uint8_t* q,
                     float& neg_min) {
  float weights[kQK];
  ImportanceWeights(x, w, kQK, row_mean_square, weights);
  return FitScaleAndMin(x, weights, kQK, nmax, kWeightedAffineGrid, q, &neg_min);
}

void PackNibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < kQK / 2; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
}

}  // namespace

void Q4_0Format::EncodeBlockWeighted(const float* x, const float* w, float row_mean_square,
                                     Block& b) {
  uint8_t q[kQK];
  b.d = F32ToF16(WeightedSymmetric(x, w, row_mean_square, 8, q));
  PackNibbles(q, b.qs);
}

void Q4_1Format::EncodeBlockWeighted(const float* x, const float* w, float row_mean_square,
                                     Block& b) {
  uint8_t q[kQK];
  float neg_min;
  b.d = F32ToF16(WeightedAffine(x, w, row_mean_square, 15, q, neg_min));
  b.m = F32ToF16(-neg_min);
  PackNibbles(q, b.qs);
}

void Q5_0Format::EncodeBlockWeighted(const float* x, const float* w, float row_mean_square,
                                     Block& b) {
  uint8_t q[kQK];
  b.d = F32ToF16(WeightedSymmetric(x, w, row_mean_square, 16, q));
  Pack5(q, b.qs, b.qh);
}

void Q5_1Format::EncodeBlockWeighted(const float* x, const float* w, float row_mean_square,
                                     Block& b) {
  uint8_t q[kQK];
  float neg_min;
  b.d = F32ToF16(WeightedAffine(x, w, row_mean_square, 31, q, neg_min));
  b.m = F32ToF16(-neg_min);
  Pack5(q, b.qs, b.qh);
}

void Q4_0Format::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>((b.qs[j] & 15) - 8);
    y[j + 16] = d * static_cast<float>((b.qs[j] >> 4) - 8);
  }
}

void Q4_0Format::EncodeBlock(const float* x, Block& b) {
  const float d = SignedAbsMax(x) / -8.0f;
  const float id = Reciprocal(d);
  b.d = F32ToF16(d);
  for (int j = 0; j < kQK / 2; ++j) {
    const uint8_t q0 = TruncClamp(x[j] * id + 8.5f, 15);
    const uint8_t q1 = TruncClamp(x[j + 16] * id + 8.5f, 15);
    b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void Q4_1Format::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  const float m = F16ToF32(b.m);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>(b.qs[j] & 15) + m;
    y[j + 16] = d * static_cast<float>(b.qs[j] >> 4) + m;
  }
}

void Q4_1Format::EncodeBlock(const float* x, Block& b) {
  const AffineScale a = AffineScaleOf(x, 15);
  b.d = F32ToF16(a.d);
  b.m = F32ToF16(a.min);
  for (int j = 0; j < kQK / 2; ++j) {
    const uint8_t q0 = TruncClamp((x[j] - a.min) * a.id + 0.5f, 15);
    const uint8_t q1 = TruncClamp((x[j + 16] - a.min) * a.id + 0.5f, 15);
    b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void Q5_0Format::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  int q[kQK];
  Unpack5(b.qs, b.qh, q);
  for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(q[j] - 16);
}

void Q5_0Format::EncodeBlock(const float* x, Block& b) {
  const float d = SignedAbsMax(x) / -16.0f;
  const float id = Reciprocal(d);
  b.d = F32ToF16(d);
  uint8_t q[kQK];
  for (int j = 0; j < kQK; ++j) q[j] = TruncClamp(x[j] * id + 16.5f, 31);
  Pack5(q, b.qs, b.qh);
}

void Q5_1Format::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  const float m = F16ToF32(b.m);
  int q[kQK];
  Unpack5(b.qs, b.qh, q);
  for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(q[j]) + m;
}

void Q5_1Format::EncodeBlock(const float* x, Block& b) {
  const AffineScale a = AffineScaleOf(x, 31);
  b.d = F32ToF16(a.d);
  b.m = F32ToF16(a.min);
  uint8_t q[kQK];
  for (int j = 0; j < kQK; ++j) q[j] = TruncClamp((x[j] - a.min) * a.id + 0.5f, 31);
  Pack5(q, b.qs, b.qh);
}

void Q8_0Format::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(b.qs[j]);
}

void Q8_0Format::EncodeBlock(const float* x, Block& b) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = Reciprocal(d);
  b.d = F32ToF16(d);
  // roundf: half away from zero (gguf-py's np_roundf, ggml's roundf); |x * id| <= 127 up to
  // rounding.
  for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
}

}  // namespace shrink
