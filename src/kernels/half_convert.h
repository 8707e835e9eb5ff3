// F32 rows rounded to F16 (IEEE binary16, round to nearest even): the F16 KV cache's writes.
#pragma once

#include <cstdint>

namespace shrink {

// out[i] = F16 bits of in[i], rounded to nearest even; overflow gives ±inf. Bit-identical to the
// formats table's F32ToF16 (formats/float_types.h) for every non-NaN input, on every target:
// x86 targets with F16C convert in vectors (vcvtps2ph rounds to nearest even), the others call
// F32ToF16 element by element (Highway's emulated conversion truncates instead, so it is not
// used). NaN stays NaN. `in` and `out` must not overlap.
void ConvertToF16(const float* in, int64_t n, uint16_t* out);

}  // namespace shrink
