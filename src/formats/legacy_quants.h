// Legacy ggml block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (32 elements per block, one F16 scale).
//
// Byte layouts (little-endian; prose in docs/formats.md). `d`/`m` are F16 bit patterns.
//   Q4_0 (18 B): d, qs[16];             y[j] = d * ((qs[j] & 15) - 8),
//                                       y[j+16] = d * ((qs[j] >> 4) - 8)
//   Q4_1 (20 B): d, m, qs[16];          y[j] = d * (qs[j] & 15) + m,
//                                       y[j+16] = d * (qs[j] >> 4) + m
//   Q5_0 (22 B): d, qh[4], qs[16];      q = nibble | (bit j of qh as u32) << 4; y[j] = d * (q - 16)
//   Q5_1 (24 B): d, m, qh[4], qs[16];                                           y[j] = d * q + m
//   Q8_0 (34 B): d, qs[32] (int8);      y[j] = d * qs[j]
// All arithmetic is float32, one rounding per operation, no fused multiply-add (bit-exact with
// gguf-py).
//
// The encoders are the reference quantizers of gguf-py (= ggml's quantize_row_*_ref, except that an
// all-zero Q4_0/Q5_0 block takes the sign of its first element's zero, as numpy does); exact
// rounding rules in docs/numerics.md. REQUIRES for encoders: finite inputs.
//
// EncodeBlockWeighted(x, w, row_mean_square, b) (Q4_0, Q4_1, Q5_0, Q5_1) is ggml's quantize_<type>
// given an importance row (its quantize_row_<type>_impl): element i's squared error weighs
// w[i] * sqrt(row_mean_square + x[i]^2), where row_mean_square is the mean of x^2 over the whole
// row the block belongs to; Q4_0/Q5_0 take their step from FitSymmetricScale, Q4_1/Q5_1 step and min
// from FitScaleAndMin (scale_search.h). Q8_0 has none: ggml ignores the importance for it.
#pragma once

#include <cstdint>

namespace shrink {

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct Q4_0Format {
  using Block = BlockQ4_0;
  static constexpr int kBlockElements = 32;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 16;
  static void SetCode(Block& b, int e, int q);
  // One-scale grid (exact_scale.h): sets the block's F16 step d, codes untouched.
  static void SetScale(Block& b, float d);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q4_1Format {
  using Block = BlockQ4_1;
  static constexpr int kBlockElements = 32;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 16;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q5_0Format {
  using Block = BlockQ5_0;
  static constexpr int kBlockElements = 32;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 32;
  static void SetCode(Block& b, int e, int q);
  // One-scale grid (exact_scale.h): sets the block's F16 step d, codes untouched.
  static void SetScale(Block& b, float d);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q5_1Format {
  using Block = BlockQ5_1;
  static constexpr int kBlockElements = 32;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 32;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
  static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square, Block& b);
};
struct Q8_0Format {
  using Block = BlockQ8_0;
  static constexpr int kBlockElements = 32;
  static void DecodeBlock(const Block& b, float* y);
  // Fixed-grid rounding (block_grid.h): codes 0..kLevels-1; SetCode writes code q of element e.
  static constexpr int kLevels = 256;
  static void SetCode(Block& b, int e, int q);
  static void EncodeBlock(const float* x, Block& b);
};

}  // namespace shrink
