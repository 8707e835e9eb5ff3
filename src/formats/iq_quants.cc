#include "formats/iq_quants.h"

#include <cmath>

#include "formats/float_types.h"

// Byte-identity with ggml's IQ4 quantizers needs its float arithmetic, operation for operation:
// the formats layer is compiled with -ffp-contract=off (src/formats/CMakeLists.txt), so no
// product below is fused into an FMA, and sums run in element order.

namespace shrink {
namespace {

// Elements sharing one scale: a whole IQ4_NL block, one of IQ4_XS's eight sub-blocks.
constexpr int kGroup = 32;
constexpr int kLevels = 16;
// IQ4_XS: sub-blocks per super-block, and the bias of their signed 6-bit scales ([-32, 31]).
constexpr int kSubBlocks = 8;
constexpr int kSubScaleBias = 32;
// The scale search tries mapping the group's extreme element onto -127 + s for s in
// [-kSearchSteps, kSearchSteps]: the level table is non-uniform, so which elements land on which
// level changes with the scale, and a slightly smaller or larger extreme can fit the rest better.
constexpr int kSearchSteps = 7;
// A group whose largest magnitude is below this is stored with scale 0 (ggml's GROUP_MAX_EPS).
constexpr float kNegligibleMagnitude = 1e-15f;

float Reciprocal(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// Index of the level nearest to v (v in level units). Between two levels, v goes to the lower one
// only when strictly closer to it: an exact tie takes the upper level, as ggml does.
int NearestLevel(float v) {
  if (v <= kIq4nlValues[0]) return 0;
  if (v >= kIq4nlValues[kLevels - 1]) return kLevels - 1;
  // The neighbours kIq4nlValues[below] <= v < kIq4nlValues[below + 1]: counting the inner levels
  // at or below v (the table is sorted and its first level is below v) is branch-free, which is
  // faster than bisecting on data whose branches cannot be predicted.
  int below = 0;
  for (int k = 1; k < kLevels - 1; ++k) below += v >= kIq4nlValues[k] ? 1 : 0;
  const float to_below = v - kIq4nlValues[below];
  const float to_above = kIq4nlValues[below + 1] - v;
  return to_below < to_above ? below : below + 1;
}

// The sums of a weighted least-squares fit x ≈ s·q, where q are the levels nearest to
// x·inv_scale: the best s is sum_qx / sum_qq, and it lowers Σw·x² by sum_qx² / sum_qq.
struct LevelFit {
  float sum_qx = 0.0f;
  float sum_qq = 0.0f;
};

LevelFit FitLevels(const float* x, const float* weight, float inv_scale) {
  LevelFit fit;
  for (int j = 0; j < kGroup; ++j) {
    const float q = kIq4nlValues[NearestLevel(inv_scale * x[j])];
    const float wq = weight[j] * q;
    fit.sum_qx += wq * x[j];
    fit.sum_qq += wq * q;
  }
  return fit;
}

// The scale of one group of kGroup elements with the least weighted squared error found among the
// candidate mappings; may be negative (the extreme element then sits at the -127 end of the
// table, which reaches further than +113). 0 for a negligible group.
float SearchGroupScale(const float* x, const float* weight) {
  float magnitude = 0.0f;
  float extreme = 0.0f;  // the signed element of largest magnitude, the first one on ties
  for (int j = 0; j < kGroup; ++j) {
    if (std::fabs(x[j]) > magnitude) {
      magnitude = std::fabs(x[j]);
      extreme = x[j];
    }
  }
  if (magnitude < kNegligibleMagnitude) return 0.0f;

  // First guess: the extreme onto +127 (beyond the top level, so it rounds to 113), refitted.
  const float guess = -extreme / kIq4nlValues[0];
  LevelFit fit = FitLevels(x, weight, 1.0f / guess);
  float best_scale = fit.sum_qq > 0.0f ? fit.sum_qx / fit.sum_qq : 0.0f;
  float best_gain = best_scale * fit.sum_qx;
  for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
    const float inv_scale = static_cast<float>(step + kIq4nlValues[0]) / extreme;
    fit = FitLevels(x, weight, inv_scale);
    // gain = sum_qx² / sum_qq, compared without dividing.
    if (fit.sum_qq > 0.0f && fit.sum_qx * fit.sum_qx > best_gain * fit.sum_qq) {
      best_scale = fit.sum_qx / fit.sum_qq;
      best_gain = best_scale * fit.sum_qx;
    }
  }
  return best_scale;
}

// How much each element's squared error counts, for a block of n elements (an IQ4_NL block or a
// whole IQ4_XS super-block). Without an importance row: x², so large weights are kept most
// precisely. With one (imatrix column energies): importance·sqrt(σ² + x²), σ² = 2·mean(x²) over
// the block, so small weights of an important column still count.
void ErrorWeights(const float* x, const float* importance, int n, float* weight) {
  if (importance == nullptr) {
    for (int j = 0; j < n; ++j) weight[j] = x[j] * x[j];
    return;
  }
  float sigma2 = 0.0f;
  for (int j = 0; j < n; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.0f / static_cast<float>(n);
  for (int j = 0; j < n; ++j) weight[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// Rounds a group to its nearest levels at `scale` and packs the 4-bit indices: element j in the
// low nibble of qs[j], element j + 16 in the high nibble. A zero scale gives index 8 (level 1)
// everywhere, as ggml writes it.
void PackGroup(const float* x, float scale, uint8_t* qs) {
  const float inv_scale = Reciprocal(scale);
  for (int j = 0; j < kGroup / 2; ++j) {
    const int low = NearestLevel(inv_scale * x[j]);
    const int high = NearestLevel(inv_scale * x[j + kGroup / 2]);
    qs[j] = static_cast<uint8_t>(low | (high << 4));
  }
}

void EncodeNl(const float* x, const float* importance, BlockIQ4_NL& b) {
  float weight[kGroup];
  ErrorWeights(x, importance, kGroup, weight);
  const float scale = SearchGroupScale(x, weight);
  b.d = F32ToF16(scale);
  // Indices use the unrounded scale; only the stored copy is F16.
  PackGroup(x, scale, b.qs);
}

// Nearest integer to v (ties to even, as ggml's nearest_int in the default rounding mode), clamped
// to the signed 6-bit range in float first so nothing out of range reaches the conversion.
int SubScaleLevel(float v) {
  float r = std::nearbyint(v);
  if (!(r >= -kSubScaleBias)) r = -kSubScaleBias;
  if (r > kSubScaleBias - 1) r = kSubScaleBias - 1;
  return static_cast<int>(r);
}

void EncodeXs(const float* x, const float* importance, BlockIQ4_XS& b) {
  constexpr int kN = kGroup * kSubBlocks;
  float weight[kN];
  ErrorWeights(x, importance, kN, weight);
  float scales[kSubBlocks];
  float largest = 0.0f;  // the signed sub-block scale of largest magnitude, the first on ties
  for (int ib = 0; ib < kSubBlocks; ++ib) {
    scales[ib] = SearchGroupScale(x + kGroup * ib, weight + kGroup * ib);
    if (std::fabs(scales[ib]) > std::fabs(largest)) largest = scales[ib];
  }
  // Super-scale d with sub-scale levels l in [-32, 31]: the largest sub-scale maps exactly to
  // l = -32, the one level whose magnitude is 32. An all-zero block stores d = -0 (F16 0x8000).
  const float d = -largest / kSubScaleBias;
  b.d = F32ToF16(d);
  const float inv_d = Reciprocal(d);
  b.scales_h = 0;
  for (uint8_t& s : b.scales_l) s = 0;
  for (int ib = 0; ib < kSubBlocks; ++ib) {
    const int l = SubScaleLevel(inv_d * scales[ib]);
    // Elements are rounded against the sub-scale as stored (d · l, with d unrounded), not against
    // the searched one.
    PackGroup(x + kGroup * ib, d * static_cast<float>(l), b.qs + (kGroup / 2) * ib);
    const int biased = l + kSubScaleBias;
    b.scales_l[ib / 2] |= static_cast<uint8_t>((biased & 15) << (4 * (ib % 2)));
    b.scales_h |= static_cast<uint16_t>((biased >> 4) << (2 * ib));
  }
}

// 16 packed bytes -> 32 scaled levels: low nibbles are elements 0..15, high nibbles 16..31.
void DecodeNibbleLevels(const uint8_t* qs, float dl, float* y) {
  for (int j = 0; j < 16; ++j) {
    y[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 15]);
    y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
  }
}

}  // namespace

void IQ4_NLFormat::DecodeBlock(const Block& b, float* y) {
  DecodeNibbleLevels(b.qs, F16ToF32(b.d), y);
}

void IQ4_NLFormat::EncodeBlock(const float* x, Block& b) { EncodeNl(x, nullptr, b); }

void IQ4_NLFormat::EncodeBlockWeighted(const float* x, const float* w, float /*row_mean_square*/,
                                       Block& b) {
  EncodeNl(x, w, b);
}

void IQ4_XSFormat::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const int low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 15;
    const int high = (b.scales_h >> (2 * ib)) & 3;
    const float dl = d * static_cast<float>((low | (high << 4)) - 32);
    DecodeNibbleLevels(b.qs + 16 * ib, dl, y + 32 * ib);
  }
}

void IQ4_XSFormat::EncodeBlock(const float* x, Block& b) { EncodeXs(x, nullptr, b); }

void IQ4_XSFormat::EncodeBlockWeighted(const float* x, const float* w, float /*row_mean_square*/,
                                       Block& b) {
  EncodeXs(x, w, b);
}

}  // namespace shrink
