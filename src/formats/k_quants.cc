#include "formats/k_quants.h"

#include "formats/float_types.h"

namespace shrink {

void UnpackScaleMinK4(const uint8_t* scales, int j, uint8_t& scale, uint8_t& min) {
  // Bytes 0..3: 6-bit scales 0..3 (top 2 bits: high bits of scale 4..7); bytes 4..7: mins 0..3 (top
  // 2 bits: high bits of min 4..7); bytes 8..11: low nibble = low 4 bits of scale 4..7, high nibble
  // of min.
  if (j < 4) {
    scale = scales[j] & 63;
    min = scales[j + 4] & 63;
  } else {
    scale = static_cast<uint8_t>((scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4));
    min = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

void PackScaleMinK4(const uint8_t* scale, const uint8_t* min, uint8_t* scales) {
  // Sub-blocks 0..3 own whole bytes first; 4..7 then fill bytes 8..11 and OR their high bits into
  // the top two bits of bytes 0..7 (truncated to the byte, as the C assignment does).
  for (int j = 0; j < 4; ++j) {
    scales[j] = scale[j];
    scales[j + 4] = min[j];
  }
  for (int j = 4; j < 8; ++j) {
    scales[j + 4] = static_cast<uint8_t>((scale[j] & 15) | ((min[j] & 15) << 4));
    scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | ((scale[j] >> 4) << 6));
    scales[j] = static_cast<uint8_t>(scales[j] | ((min[j] >> 4) << 6));
  }
}

int UnpackScaleQ3_K(const uint8_t* scales, int i) {
  const int low = (scales[i % 8] >> (4 * (i / 8))) & 15;
  const int high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
  return low | (high << 4);
}

void PackScalesQ3_K(const int* biased, uint8_t* scales) {
  // Low nibbles: scale i in byte i % 8 (low half for i < 8); high 2 bits: byte 8 + i % 4, bits
  // 2 * (i / 4).
  for (int k = 0; k < 12; ++k) scales[k] = 0;
  for (int i = 0; i < 16; ++i) {
    scales[i % 8] = static_cast<uint8_t>(scales[i % 8] | ((biased[i] & 15) << (4 * (i / 8))));
    scales[8 + i % 4] =
        static_cast<uint8_t>(scales[8 + i % 4] | ((biased[i] >> 4) << (2 * (i / 4))));
  }
}

namespace {

// Q4_K and Q5_K: 8 sub-blocks of 32 elements, each with a 6-bit scale and min (UnpackScaleMinK4):
// y = d·scale·q − dmin·min, with q = quant(s, l) for element l of sub-block s.
template <typename QuantFn>
void DecodeScaleMinSubBlocks(uint16_t d16, uint16_t dmin16, const uint8_t* scales, float* y,
                             QuantFn quant) {
  const float d = F16ToF32(d16);
  const float dmin = F16ToF32(dmin16);
  for (int s = 0; s < 8; ++s) {
    uint8_t sc, m;
    UnpackScaleMinK4(scales, s, sc, m);
    const float dl = d * static_cast<float>(sc);
    const float ml = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) y[32 * s + l] = dl * static_cast<float>(quant(s, l)) - ml;
  }
}

}  // namespace

void Q2_KFormat::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  const float dmin = F16ToF32(b.dmin);
  // Element e = 128 * half + 32 * shift + l takes bits 2*shift of qs[32 * half + l]; scale e / 16.
  for (int e = 0; e < kQK_K; ++e) {
    const int half = e / 128, shift = (e / 32) % 4, l = e % 32;
    const uint8_t sc = b.scales[e / 16];
    const float dl = d * static_cast<float>(sc & 15);
    const float ml = dmin * static_cast<float>(sc >> 4);
    const int q = (b.qs[32 * half + l] >> (2 * shift)) & 3;
    y[e] = dl * static_cast<float>(q) - ml;
  }
}

void Q3_KFormat::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  float dl[16];
  for (int i = 0; i < 16; ++i) dl[i] = d * static_cast<float>(UnpackScaleQ3_K(b.scales, i) - 32);
  // Low 2 bits as Q2_K; bit 2 of element e = 32 * k + l is bit k of hmask[l], and a CLEAR bit means
  // -4.
  for (int e = 0; e < kQK_K; ++e) {
    const int half = e / 128, shift = (e / 32) % 4, l = e % 32;
    const int low = (b.qs[32 * half + l] >> (2 * shift)) & 3;
    const int high_set = (b.hmask[l] >> (e / 32)) & 1;
    y[e] = dl[e / 16] * static_cast<float>(low - (high_set ? 0 : 4));
  }
}

void Q4_KFormat::DecodeBlock(const Block& b, float* y) {
  // Sub-block s (32 elements): 2*c + h takes nibble h of qs[32 * c + l].
  DecodeScaleMinSubBlocks(b.d, b.dmin, b.scales, y, [&](int s, int l) {
    return (b.qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15;
  });
}

void Q5_KFormat::DecodeBlock(const Block& b, float* y) {
  // As Q4_K, plus bit s of qh[l] as the fifth bit.
  DecodeScaleMinSubBlocks(b.d, b.dmin, b.scales, y, [&](int s, int l) {
    const int low = (b.qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15;
    const int high = (b.qh[l] >> s) & 1;
    return low | (high << 4);
  });
}

void Q6_KFormat::DecodeBlock(const Block& b, float* y) {
  const float d = F16ToF32(b.d);
  // Element e = 128 * a + r: low nibble from ql[64 * a + r % 64] (shifted by 4 when r >= 64),
  // high 2 bits from qh[32 * a + r % 32] >> 2 * (r / 32); scale scales[e / 16].
  for (int e = 0; e < kQK_K; ++e) {
    const int a = e / 128, r = e % 128;
    const int low = (b.ql[64 * a + r % 64] >> (4 * (r / 64))) & 15;
    const int high = (b.qh[32 * a + r % 32] >> (2 * (r / 32))) & 3;
    const float dl = d * static_cast<float>(b.scales[e / 16]);
    y[e] = dl * static_cast<float>((low | (high << 4)) - 32);
  }
}

void Q8_KFormat::DecodeBlock(const Block& b, float* y) {
  for (int e = 0; e < kQK_K; ++e) y[e] = b.d * static_cast<float>(b.qs[e]);
}

}  // namespace shrink
