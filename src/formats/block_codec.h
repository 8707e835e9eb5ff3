// Row codecs built from per-format traits: one generic loop serves every block format.
//
// A format's traits struct names its block and its per-block scalar reference codec:
//   struct Q4_0Format {
//     using Block = BlockQ4_0;  // the byte layout; sizeof(Block) == block bytes
//     static constexpr int kBlockElements = 32;
//     static void DecodeBlock(const Block& b, float* y);  // y: (kBlockElements)
//     static void EncodeBlock(const float* x, Block& b);  // optional; x: (kBlockElements)
//     // optional; w: (kBlockElements) importance of each element's squared error, w[i] >= 0;
//     // row_mean_square: mean of x^2 over the whole row the block is part of (the legacy
//     // formats scale their weights by it, as ggml does)
//     static void EncodeBlockWeighted(const float* x, const float* w, float row_mean_square,
//                                     Block& b);
//   };
// DecodeRow<F>/EncodeRow<F>/EncodeWeightedRow<F> have the DecodeFn/EncodeFn/EncodeWeightedFn
// signatures of the types table. Blocks are
// copied through memcpy, so rows need no alignment (GGUF tensor data in a mmapped file is only
// 32-byte aligned and blocks of 18 or 22 bytes straddle any alignment). SIMD specializations
// (Highway) will reuse these traits and keep DecodeBlock as the scalar reference they are tested
// against.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace shrink {

template <typename Format>
void DecodeRow(const uint8_t* blocks, float* out, int64_t n) {
  using Block = typename Format::Block;
  static_assert(std::is_trivially_copyable_v<Block>);
  const int64_t n_blocks = n / Format::kBlockElements;
  for (int64_t i = 0; i < n_blocks; ++i) {
    Block block;
    std::memcpy(&block, blocks + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
    Format::DecodeBlock(block, out + i * Format::kBlockElements);
  }
}

template <typename Format>
void EncodeRow(const float* in, uint8_t* blocks, int64_t n) {
  using Block = typename Format::Block;
  const int64_t n_blocks = n / Format::kBlockElements;
  for (int64_t i = 0; i < n_blocks; ++i) {
    Block block;
    Format::EncodeBlock(in + i * Format::kBlockElements, block);
    std::memcpy(blocks + i * static_cast<int64_t>(sizeof(Block)), &block, sizeof(Block));
  }
}

// One row: `n` is the row length (ggml's n_per_row), because the mean square is the row's.
template <typename Format>
void EncodeWeightedRow(const float* in, uint8_t* blocks, int64_t n, const float* importance) {
  using Block = typename Format::Block;
  // Summed in order in F32 and divided by n in F32, as ggml computes it.
  float sum_squares = 0;
  for (int64_t i = 0; i < n; ++i) sum_squares += in[i] * in[i];
  const float row_mean_square = n > 0 ? sum_squares / static_cast<float>(n) : 0.0f;
  const int64_t n_blocks = n / Format::kBlockElements;
  for (int64_t i = 0; i < n_blocks; ++i) {
    Block block;
    Format::EncodeBlockWeighted(in + i * Format::kBlockElements,
                                importance + i * Format::kBlockElements, row_mean_square, block);
    std::memcpy(blocks + i * static_cast<int64_t>(sizeof(Block)), &block, sizeof(Block));
  }
}

}  // namespace shrink
