// The table of tensor element types: ONE row per type, ids and block layouts as in ggml/GGUF.
//
// Every format is described here once, as data: ggml type id, name, elements per block, bytes per
// block, and scalar reference decode/encode functions. Code that handles "any type" looks its row
// up here rather than switching on the type. Block structs with static_asserts on their sizes live
// in the per-family headers (float_types.h, legacy_quants.h, k_quants.h, iq_quants.h); layouts in
// docs/formats.md.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/status.h"

namespace shrink {

// ggml type ids (stable; stored in GGUF tensor tables).
enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ4_NL = 20,
  kIQ4_XS = 23,
  kBF16 = 30,
};

// Decodes `n` elements (REQUIRES: n % block_elements == 0) from consecutive blocks at `blocks`.
using DecodeFn = void (*)(const uint8_t* blocks, float* out, int64_t n);
// Encodes `n` elements (REQUIRES: n % block_elements == 0) into consecutive blocks at `blocks`,
// byte-identical to ggml's reference quantizer for that type.
using EncodeFn = void (*)(const float* in, uint8_t* blocks, int64_t n);
// Encodes ONE row of `n` elements like EncodeFn but chooses each block's scales (and codes) to
// minimise an importance-weighted squared error, sum_i importance[i] * (in[i] - decoded[i])^2
// (scaled per element as ggml does, docs/formats.md), byte-identical to ggml's quantize_<type>
// given that importance row (an imatrix). One row per call because some types (Q4_0..Q5_1) weigh
// by the row's mean square. `importance` has n entries (REQUIRES: finite, >= 0), aligned with
// `in`: the imatrix's per-column weights.
using EncodeWeightedFn = void (*)(const float* in, uint8_t* blocks, int64_t n,
                                  const float* importance);

struct BlockGrid;  // formats/block_grid.h

struct TypeTraits {
  TensorType type;
  std::string_view name;   // as ggml/gguf-py spell it: "F32", "Q4_K", "IQ4_XS"
  int64_t block_elements;  // elements per block (1 for F32/F16/BF16)
  int64_t block_bytes;     // bytes per block
  DecodeFn decode;         // never null for a type in the table
  EncodeFn encode;         // null where no reference encoder exists yet (k-quants, IQ)
  // Null where the type has no importance-aware encoder: an imatrix cannot help it (F32, F16,
  // BF16, Q8_0, as in ggml) or it is not written yet.
  EncodeWeightedFn encode_weighted;
  // Fixed-grid rounding (GPTQ), formats/block_grid.h; null for the float types and Q8_K.
  const BlockGrid* grid;
  double bits_per_weight() const { return 8.0 * block_bytes / block_elements; }
};

// All rows, in id order.
std::span<const TypeTraits> AllTypes();
// The row for a ggml type id, or nullptr when shrink does not know that id.
const TypeTraits* FindType(uint32_t ggml_type_id);
// REQUIRES: `type` is a TensorType enumerator.
const TypeTraits& Traits(TensorType type);
// Bytes of a row of `elements` elements; an error (naming the type and the count) when `elements`
// is negative, not a multiple of the block size, or its byte size overflows int64_t.
Result<int64_t> RowBytes(TensorType type, int64_t elements);
// Looks a type up by name, case-insensitively ("q4_0" → kQ4_0).
const TypeTraits* FindTypeByName(std::string_view name);

}  // namespace shrink
