// Fixed-grid rounding inside a block format: the seam GPTQ (quant/gptq.h) rounds through.
//
// GPTQ quantizes a weight row one column at a time and feeds each column's rounding error forward
// into the columns not yet quantized. On a stock GGUF type the grid is the format's own: when the
// sweep reaches the first column of a format block, the block's parameters (scales, mins, as the
// format stores them) are chosen once by the format's encoder on the current, error-updated
// weights; every later column of that block is then rounded onto the grid those parameters allow.
//
// A BlockGrid exposes exactly that, generically over the per-format traits (block_codec.h) plus
// two members per format:
//   static constexpr int kLevels;                // codes per element (16 for 4-bit formats)
//   static void SetCode(Block& b, int e, int q); // writes code q (0..kLevels-1) of element e
// Levels are computed by the format's own DecodeBlock (set every element to code q, decode), so
// the grid can never disagree with the decoder: levels[q·B + e] is exactly what element e decodes
// to with code q under the block's parameters. For every format the levels of an element are
// monotone in q (affine codes, or IQ4's sorted value table), non-increasing when the scale is
// negative; RoundElement relies on that (binary search).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace shrink {

struct BlockGrid {
  int n_levels;  // codes per element
  // Encodes one block (x, importance: (block_elements)) choosing its parameters: the format's
  // importance-weighted encoder when it has one (row_mean_square as in EncodeBlockWeighted), else
  // its plain encoder (importance ignored).
  void (*encode_block)(const float* x, const float* importance, float row_mean_square,
                       uint8_t* block);
  // levels: (n_levels, block_elements) row-major, from the block's parameters (its codes ignored).
  void (*levels)(const uint8_t* block, float* levels);
  // Writes code q of element e, leaving the block's other bytes as they were.
  void (*set_code)(uint8_t* block, int e, int q);
  // One-scale formats with an exact step search (Q4_0, Q5_0, IQ4_NL: y = d · level[code]): sets
  // d (stored as F16), codes untouched; null otherwise (exact_scale.h; Q8_0's 256 levels would make
  // the search 16x slower for a gain below its rounding noise).
  void (*set_scale)(uint8_t* block, float d);
};

// Rounds element e of `block` to the level nearest `x` (ties to the lower code), writes that code
// and returns the value it decodes to. levels: the block's (n_levels, block_elements) table.
inline float RoundElement(const BlockGrid& grid, const float* levels, int64_t block_elements,
                          uint8_t* block, int e, float x) {
  auto level = [&](int q) { return levels[static_cast<int64_t>(q) * block_elements + e]; };
  const bool rising = level(grid.n_levels - 1) >= level(0);
  // The first code whose level is on the far side of x, then the nearer of it and its predecessor.
  int lo = 0, hi = grid.n_levels - 1;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (rising ? level(mid) < x : level(mid) > x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  int q = lo;
  if (q > 0 && std::abs(level(q - 1) - x) <= std::abs(level(q) - x)) q = q - 1;
  grid.set_code(block, e, q);
  return level(q);
}

namespace grid_detail {

template <typename Format>
typename Format::Block Load(const uint8_t* bytes) {
  typename Format::Block b;
  std::memcpy(&b, bytes, sizeof(b));
  return b;
}

template <typename Format>
void EncodeBlock(const float* x, const float* importance, float row_mean_square, uint8_t* out) {
  typename Format::Block b;
  if constexpr (requires(const float* w, typename Format::Block& blk) {
                  Format::EncodeBlockWeighted(x, w, 0.0f, blk);
                }) {
    Format::EncodeBlockWeighted(x, importance, row_mean_square, b);
  } else {
    Format::EncodeBlock(x, b);
  }
  std::memcpy(out, &b, sizeof(b));
}

template <typename Format>
void Levels(const uint8_t* block, float* levels) {
  typename Format::Block b = Load<Format>(block);
  for (int q = 0; q < Format::kLevels; ++q) {
    for (int e = 0; e < Format::kBlockElements; ++e) Format::SetCode(b, e, q);
    Format::DecodeBlock(b, levels + static_cast<int64_t>(q) * Format::kBlockElements);
  }
}

template <typename Format>
void SetCode(uint8_t* block, int e, int q) {
  typename Format::Block b = Load<Format>(block);
  Format::SetCode(b, e, q);
  std::memcpy(block, &b, sizeof(b));
}

template <typename Format>
void SetScale(uint8_t* block, float d) {
  typename Format::Block b = Load<Format>(block);
  Format::SetScale(b, d);
  std::memcpy(block, &b, sizeof(b));
}

template <typename Format>
constexpr auto SetScaleOf() -> void (*)(uint8_t*, float) {
  if constexpr (requires(typename Format::Block & b) { Format::SetScale(b, 1.0f); }) {
    return &SetScale<Format>;
  } else {
    return nullptr;
  }
}

}  // namespace grid_detail

// The grid of a format with kLevels/SetCode and an encoder; used by the types table.
template <typename Format>
inline constexpr BlockGrid kBlockGridOf = {.n_levels = Format::kLevels,
                                           .encode_block = &grid_detail::EncodeBlock<Format>,
                                           .levels = &grid_detail::Levels<Format>,
                                           .set_code = &grid_detail::SetCode<Format>,
                                           .set_scale = grid_detail::SetScaleOf<Format>()};

}  // namespace shrink
