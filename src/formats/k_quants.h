// K-quant block formats: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K (super-blocks of QK_K = 256 elements).
//
// Byte layouts (little-endian; prose and formulas in docs/formats.md). `d`/`dmin` are F16 bit
// patterns except in Q8_K, whose `d` is an F32. Sub-block scales are packed integers multiplied by
// d (and mins by dmin) in float32 before use, then y = dl * q - ml (one rounding per operation, no
// FMA), exactly as gguf-py dequantizes.
//   Q2_K (84 B):  scales[16] (lo nibble scale, hi nibble min, per 16 elements), qs[64] (2-bit),
//                 d, dmin
//   Q3_K (110 B): hmask[32] (bit 2 of q, set means no -4 offset), qs[64] (2-bit),
//                 scales[12] (16 x 6-bit, biased by 32), d
//   Q4_K (144 B): d, dmin, scales[12] (8 x 6-bit scale + 8 x 6-bit min), qs[128] (4-bit)
//   Q5_K (176 B): d, dmin, scales[12] (as Q4_K), qh[32] (bit 4 of q), qs[128] (low 4 bits)
//   Q6_K (210 B): ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d;  q biased by 32
//   Q8_K (292 B): d (F32), qs[256] (int8), bsums[16] (int16 sums of 16 qs; unused by decode)
//
// Encoders (k_quant_encoders.cc), byte-identical with ggml:
//   EncodeBlock(x, b): ggml's quantize_row_<type>_ref, what llama-quantize writes without an
//     importance matrix. Each sub-block's step (and min) comes from a scale search
//     (scale_search.h); the sub-block values are then quantized to the 4- to 8-bit codes relative
//     to the largest one, and every element is rounded again onto the grid of the decoded scales.
//   EncodeBlockWeighted(x, w, row_mean_square, b): ggml's quantize_row_<type>_impl with an
//     importance row w (w[i] >= 0 weighs element i's squared error). The sub-block searches weigh
//     element i by w[i] * sqrt(sigma2 + x[i]^2) (sigma2 from the super-block's own mean square, so
//     row_mean_square is unused; Q6_K weighs by w alone), and the sub-block scales are quantized by
//     a weighted search too (Q6_K: as unweighted).
// x, w: (256). REQUIRES: finite x.
#pragma once

#include <cstdint>

namespace shrink {

inline constexpr int kQK_K = 256;

struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

struct Q2_KFormat {
  using Block = BlockQ2_K;
  static constexpr int kBlockElements = kQK_K;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 4;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q3_KFormat {
  using Block = BlockQ3_K;
  static constexpr int kBlockElements = kQK_K;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 8;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q4_KFormat {
  using Block = BlockQ4_K;
  static constexpr int kBlockElements = kQK_K;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 16;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q5_KFormat {
  using Block = BlockQ5_K;
  static constexpr int kBlockElements = kQK_K;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 32;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q6_KFormat {
  using Block = BlockQ6_K;
  static constexpr int kBlockElements = kQK_K;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 64;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q8_KFormat {
  using Block = BlockQ8_K;
  static constexpr int kBlockElements = kQK_K;
  static void DecodeBlock(const Block& b, float* y);
};

// The 6-bit scale and min of sub-block `j` (0..7) from the 12 packed bytes of Q4_K/Q5_K.
void UnpackScaleMinK4(const uint8_t* scales, int j, uint8_t& scale, uint8_t& min);
// The inverse: packs 8 scales and 8 mins into 12 bytes. Values above 63 are packed as ggml packs
// them (their bits beyond the 6 spill into neighbouring fields), so even that case stays
// byte-identical; the encoders clamp to 63 where ggml does.
void PackScaleMinK4(const uint8_t* scale, const uint8_t* min, uint8_t* scales);

// The biased 6-bit scale `i` (0..15, value 0..63, 32 meaning 0) from Q3_K's 12 scale bytes, and the
// inverse for 16 values in 0..63.
int UnpackScaleQ3_K(const uint8_t* scales, int i);
void PackScalesQ3_K(const int* biased, uint8_t* scales);

}  // namespace shrink
