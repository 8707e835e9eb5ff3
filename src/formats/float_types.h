// Scalar float element types: F32, F16 (IEEE 754 binary16) and BF16 (bfloat16).
//
// Conversions are bit-exact with gguf-py/numpy and ggml (see docs/numerics.md):
//   F16 -> F32, BF16 -> F32: exact (every value, including NaN payloads, is representable).
//   F32 -> F16:  IEEE round-to-nearest-even; overflow -> ±inf; subnormals kept; NaN keeps its sign
//                and top 10 payload bits with the quiet bit forced on (numpy and F16C agree on
//                quiet NaNs).
//   F32 -> BF16: ggml_compute_fp32_to_bf16's rule: NaN -> (bits >> 16) | 0x40 (quieted);
//                otherwise round-to-nearest-even on the dropped 16 bits (overflow rounds to ±inf);
//                no flush to zero.
// Values are stored as raw little-endian bit patterns (uint16_t), never as a compiler half type.
#pragma once

#include <cstdint>

namespace shrink {

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);
float BF16ToF32(uint16_t b);
uint16_t F32ToBF16(float f);

// Row codecs in the TypeTraits signature (types.h); `n` elements, blocks of one element.
void DecodeF32(const uint8_t* blocks, float* out, int64_t n);
void EncodeF32(const float* in, uint8_t* blocks, int64_t n);
void DecodeF16(const uint8_t* blocks, float* out, int64_t n);
void EncodeF16(const float* in, uint8_t* blocks, int64_t n);
void DecodeBF16(const uint8_t* blocks, float* out, int64_t n);
void EncodeBF16(const float* in, uint8_t* blocks, int64_t n);

}  // namespace shrink
