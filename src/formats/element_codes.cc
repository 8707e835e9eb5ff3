// SetCode of every block format: where the code of element e lives in the block's bytes (and
// SetScale of the one-scale formats: their F16 step d). Each SetCode is
// the inverse of the element addressing its DecodeBlock documents (legacy_quants.cc,
// k_quants.cc, iq_quants.cc); block_grid_test.cc checks every one against its decoder.
#include <cstdint>

#include "formats/float_types.h"
#include "formats/iq_quants.h"
#include "formats/k_quants.h"
#include "formats/legacy_quants.h"

namespace shrink {
namespace {

// Writes the low `width` bits of `value` at bit `shift` of `byte`, keeping its other bits.
void PutBits(uint8_t& byte, int shift, int width, int value) {
  const int mask = ((1 << width) - 1) << shift;
  byte = static_cast<uint8_t>((byte & ~mask) | ((value << shift) & mask));
}

// The legacy 32-element nibble layout: element e in byte e % 16, low nibble for e < 16.
void PutNibble32(uint8_t* qs, int e, int q) { PutBits(qs[e % 16], 4 * (e / 16), 4, q); }

// The fifth bit of Q5_0/Q5_1: bit e of the little-endian 32-bit qh.
void PutFifthBit(uint8_t* qh, int e, int q) { PutBits(qh[e / 8], e % 8, 1, q >> 4); }

// Q2_K/Q3_K's low two bits: element e = 128·half + 32·shift + l in qs[32·half + l] at 2·shift.
void PutTwoBitsK(uint8_t* qs, int e, int q) {
  PutBits(qs[32 * (e / 128) + e % 32], 2 * ((e / 32) % 4), 2, q);
}

// Q4_K/Q5_K's low nibble: sub-block s = e / 32 in nibble s % 2 of qs[32·(s / 2) + e % 32].
void PutNibbleK(uint8_t* qs, int e, int q) {
  const int s = e / 32;
  PutBits(qs[32 * (s / 2) + e % 32], 4 * (s % 2), 4, q);
}

}  // namespace

void Q4_0Format::SetCode(Block& b, int e, int q) { PutNibble32(b.qs, e, q); }
void Q4_1Format::SetCode(Block& b, int e, int q) { PutNibble32(b.qs, e, q); }
void Q5_0Format::SetCode(Block& b, int e, int q) {
  PutNibble32(b.qs, e, q);
  PutFifthBit(b.qh, e, q);
}
void Q5_1Format::SetCode(Block& b, int e, int q) {
  PutNibble32(b.qs, e, q);
  PutFifthBit(b.qh, e, q);
}
// Codes 0..255 stand for the int8 values -128..127 in order, so levels rise with q.
void Q8_0Format::SetCode(Block& b, int e, int q) { b.qs[e] = static_cast<int8_t>(q - 128); }

void Q2_KFormat::SetCode(Block& b, int e, int q) { PutTwoBitsK(b.qs, e, q); }
// Code q decodes to q - 4: low two bits in qs, bit 2 SET in hmask[l] bit e / 32 for q >= 4.
void Q3_KFormat::SetCode(Block& b, int e, int q) {
  PutTwoBitsK(b.qs, e, q);
  PutBits(b.hmask[e % 32], e / 32, 1, q >> 2);
}
void Q4_KFormat::SetCode(Block& b, int e, int q) { PutNibbleK(b.qs, e, q); }
void Q5_KFormat::SetCode(Block& b, int e, int q) {
  PutNibbleK(b.qs, e, q);
  PutBits(b.qh[e % 32], e / 32, 1, q >> 4);
}
// Element e = 128·a + r: low nibble in ql[64·a + r % 64] (high nibble when r >= 64), high two bits
// in qh[32·a + r % 32] at 2·(r / 32).
void Q6_KFormat::SetCode(Block& b, int e, int q) {
  const int a = e / 128, r = e % 128;
  PutBits(b.ql[64 * a + r % 64], 4 * (r / 64), 4, q);
  PutBits(b.qh[32 * a + r % 32], 2 * (r / 32), 2, q >> 4);
}

// IQ4 codes index the sorted kIq4nlValues, so levels are monotone in q as for the affine formats.
void IQ4_NLFormat::SetCode(Block& b, int e, int q) { PutNibble32(b.qs, e, q); }
void IQ4_XSFormat::SetCode(Block& b, int e, int q) { PutNibble32(b.qs + 16 * (e / 32), e % 32, q); }

void Q4_0Format::SetScale(Block& b, float d) { b.d = F32ToF16(d); }
void Q5_0Format::SetScale(Block& b, float d) { b.d = F32ToF16(d); }
void IQ4_NLFormat::SetScale(Block& b, float d) { b.d = F32ToF16(d); }

}  // namespace shrink
