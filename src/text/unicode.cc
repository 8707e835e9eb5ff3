#include "text/unicode.h"

#include <algorithm>
#include <array>

#include "base/check.h"

namespace shrink {
namespace {

using unicode_internal::FlagRange;
using unicode_internal::kFlagRangeCount;
using unicode_internal::kFlagRanges;

// Flags of the first 128 codepoints, the common case, looked up directly.
std::array<CodepointFlags, 128> MakeAsciiFlags() {
  std::array<CodepointFlags, 128> table{};
  size_t r = 0;
  for (uint32_t c = 0; c < 128; ++c) {
    while (r + 1 < kFlagRangeCount && kFlagRanges[r + 1].start <= c) ++r;
    table[c].bits = kFlagRanges[r].flags;
  }
  return table;
}

}  // namespace

CodepointFlags FlagsOf(uint32_t cpt) {
  static const std::array<CodepointFlags, 128> ascii = MakeAsciiFlags();
  if (cpt < 128) return ascii[cpt];
  if (cpt > 0x10FFFF) return CodepointFlags{CodepointFlags::kUnassigned};
  const FlagRange* end = kFlagRanges + kFlagRangeCount;
  const FlagRange* it = std::upper_bound(
      kFlagRanges, end, cpt, [](uint32_t c, const FlagRange& range) { return c < range.start; });
  SHRINK_CHECK(it != kFlagRanges);
  return CodepointFlags{(it - 1)->flags};
}

const char* UnicodeTablesVersion() { return unicode_internal::kUnicodeVersion; }

size_t Utf8SequenceLength(char lead) {
  static constexpr size_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLength[static_cast<uint8_t>(lead) >> 4];
}

std::vector<uint32_t> DecodeUtf8(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const size_t n = text.size();
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  auto is_cont = [&](size_t i) { return i < n && (byte(i) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b0 = byte(i);
    if (b0 < 0x80) {
      out.push_back(b0);
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && is_cont(i + 1)) {
      out.push_back(((b0 & 0x1Fu) << 6) | (byte(i + 1) & 0x3Fu));
      i += 2;
    } else if ((b0 & 0xF0) == 0xE0 && is_cont(i + 1) && is_cont(i + 2)) {
      out.push_back(((b0 & 0x0Fu) << 12) | ((byte(i + 1) & 0x3Fu) << 6) | (byte(i + 2) & 0x3Fu));
      i += 3;
    } else if ((b0 & 0xF8) == 0xF0 && is_cont(i + 1) && is_cont(i + 2) && is_cont(i + 3)) {
      uint32_t cpt = ((b0 & 0x07u) << 18) | ((byte(i + 1) & 0x3Fu) << 12) |
                     ((byte(i + 2) & 0x3Fu) << 6) | (byte(i + 3) & 0x3Fu);
      // llama.cpp would fail later on re-encoding a value past U+10FFFF; we replace it instead.
      out.push_back(cpt <= 0x10FFFF ? cpt : kReplacementCharacter);
      i += 4;
    } else {
      out.push_back(kReplacementCharacter);
      i += 1;
    }
  }
  return out;
}

void AppendUtf8(uint32_t cpt, std::string& out) {
  SHRINK_CHECK(cpt <= 0x10FFFF);
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

std::string CodepointToUtf8(uint32_t cpt) {
  std::string out;
  AppendUtf8(cpt, out);
  return out;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const uint8_t b0 = static_cast<uint8_t>(text[i]);
    size_t len;
    uint32_t min;
    uint32_t cpt;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cpt = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cpt = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cpt = b0 & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const uint8_t b = static_cast<uint8_t>(text[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cpt = (cpt << 6) | (b & 0x3F);
    }
    if (cpt < min || cpt > 0x10FFFF || (cpt >= 0xD800 && cpt <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace shrink
