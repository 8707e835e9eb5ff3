#include "formats/iq_quants.h"

#include "formats/float_types.h"

namespace shrink {
namespace {

// 16 packed bytes -> 32 scaled levels: low nibbles are elements 0..15, high nibbles 16..31.
void DecodeNibbleLevels(const uint8_t* qs, float dl, float* y) {
  for (int j = 0; j < 16; ++j) {
    y[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 15]);
    y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
  }
}

}  // namespace

void IQ4_NLFormat::DecodeBlock(const Block& b, float* y) {
  DecodeNibbleLevels(b.qs, F16ToF32(b.d), y);
}

void IQ4_XSFormat::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const int low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 15;
    const int high = (b.scales_h >> (2 * ib)) & 3;
    const float dl = d * static_cast<float>((low | (high << 4)) - 32);
    DecodeNibbleLevels(b.qs + 16 * ib, dl, y + 32 * ib);
  }
}

}  // namespace shrink
