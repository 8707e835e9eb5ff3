// What a tensor gets when its chosen type's block does not divide its row length.
//
// k-quants and IQ4_XS need rows that are a multiple of 256; SmolLM2's width 576 and Gemma-3's 640
// are not. llama-quantize (tensor_type_fallback in src/llama-quant.cpp) then silently uses a
// block-32 type of similar size; shrink does the same and reports it per tensor:
//
//   Q2_K, Q3_K → Q4_0    Q4_K → Q5_0    Q5_K → Q5_1    Q6_K → Q8_0    IQ4_XS → IQ4_NL
//
// and when even the fallback (or a block-32 type itself) does not divide the row: F16.
#pragma once

#include <cstdint>
#include <optional>

#include "formats/types.h"

namespace shrink {

struct TypeFallback {
  TensorType type;  // what the tensor gets
  bool fell_back;   // false when `chosen` fits the row
};

// The type a row of `row_length` elements gets when `chosen` was asked for.
TypeFallback FallbackForRow(TensorType chosen, int64_t row_length);

// The block-32 type llama.cpp uses in place of a 256-block `type`, or nullopt for a type that
// has none (a block-32 or float type, Q8_K).
std::optional<TensorType> SmallerBlockType(TensorType type);

}  // namespace shrink
