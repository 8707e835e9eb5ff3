// Random weight blocks for the kernel tests: every byte random (all bit patterns of the packed
// integers, Q8_0's -128 included), then the F16 scale fields overwritten with finite values so
// products stay finite.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "formats/float_types.h"
#include "formats/types.h"

namespace shrink {

// Offsets of the F16 scale fields in one block of `type` (docs/formats.md).
inline std::vector<int> F16FieldOffsets(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0:
    case TensorType::kIQ4_NL:
    case TensorType::kIQ4_XS:
      return {0};
    case TensorType::kQ2_K:
      return {80, 82};
    case TensorType::kQ3_K:
      return {108};
    case TensorType::kQ4_1:
    case TensorType::kQ5_1:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
      return {0, 2};
    case TensorType::kQ6_K:
      return {208};
    default:
      return {};
  }
}

// `rows` rows of `cols` elements of `type`. F16/BF16/F32 elements are random normal values.
inline std::vector<uint8_t> RandomBlocks(TensorType type, int64_t rows, int64_t cols,
                                         std::mt19937& rng) {
  const TypeTraits& tt = Traits(type);
  const int64_t blocks = rows * cols / tt.block_elements;
  std::vector<uint8_t> bytes(blocks * tt.block_bytes);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  if (type == TensorType::kF32 || type == TensorType::kF16 || type == TensorType::kBF16) {
    std::vector<float> w(rows * cols);
    for (float& v : w) v = normal(rng);
    if (type == TensorType::kF32) {
      std::memcpy(bytes.data(), w.data(), bytes.size());
    } else {
      tt.encode(w.data(), bytes.data(), rows * cols);
    }
    return bytes;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(byte(rng));
  for (int64_t b = 0; b < blocks; ++b) {
    for (int offset : F16FieldOffsets(type)) {
      const uint16_t h = F32ToF16(scale(rng));
      std::memcpy(bytes.data() + b * tt.block_bytes + offset, &h, sizeof(h));
    }
  }
  return bytes;
}

// Types with integer kernels (weight_units.h), in table order.
inline constexpr TensorType kIntegerKernelTypes[] = {
    TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0,   TensorType::kQ5_1,
    TensorType::kQ8_0, TensorType::kQ2_K, TensorType::kQ3_K,   TensorType::kQ4_K,
    TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kIQ4_NL, TensorType::kIQ4_XS};

}  // namespace shrink
