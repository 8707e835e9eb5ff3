// Non-linear 4-bit block formats: IQ4_NL (32 elements) and IQ4_XS (256 elements).
//
// Each 4-bit index selects one of 16 non-uniformly spaced int8 levels (kIq4nlValues), which are
// then scaled. Byte layouts (little-endian; prose in docs/formats.md); `d` is an F16 bit pattern.
//   IQ4_NL (18 B):  d, qs[16];  y[j] = d * kIq4nlValues[qs[j] & 15],
//                               y[j+16] = d * kIq4nlValues[qs[j] >> 4]
//   IQ4_XS (136 B): d, scales_h (u16: 2 high bits per sub-block), scales_l[4] (4 low bits per
//                   sub-block), qs[128]; sub-block ib (32 elements) has
//                   ls = (low | high << 4) - 32, dl = d * ls and packs its nibbles like one IQ4_NL
//                   block in qs[16 * ib .. 16 * ib + 15].
//
// Encoders (iq_quants.cc) write the bytes llama-quantize writes (ggml's quantize_iq4_nl /
// quantize_iq4_xs): per 32 elements a weighted least-squares scale searched over 16 candidate
// mappings of the largest element onto the level table; IQ4_XS then rounds its eight sub-block
// scales to 6 bits against one F16 super-scale. EncodeBlock weights each element's squared error by
// x² (ggml without an imatrix); EncodeBlockWeighted by w·sqrt(σ² + x²), σ² = 2·mean(x²) over the
// block (ggml with an imatrix row w). Inputs must be finite.
#pragma once

#include <cstdint>

namespace shrink {

// The 16 levels, as ggml's kvalues_iq4nl.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

struct IQ4_NLFormat {
  using Block = BlockIQ4_NL;
  static constexpr int kBlockElements = 32;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 16;
  static void SetCode(Block& b, int e, int q);
  // One-scale grid (exact_scale.h): sets the block's F16 step d, codes untouched.
  static void SetScale(Block& b, float d);
  static void EncodeBlock(const float* x, Block& b);  // x: (32)
  // x, w: (32); IQ4 weighs by the block's own mean square, not the row's.
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct IQ4_XSFormat {
  using Block = BlockIQ4_XS;
  static constexpr int kBlockElements = 256;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 16;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);  // x: (256)
  // x, w: (256); IQ4 weighs by the block's own mean square, not the row's.
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};

}  // namespace shrink
