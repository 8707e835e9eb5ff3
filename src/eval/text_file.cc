#include "eval/text_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace shrink {

std::optional<size_t> FindInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b0 = s[i];
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    // Lead byte: sequence length and the allowed range of the second byte (this range is what
    // excludes overlong forms, surrogates and code points above U+10FFFF; see RFC 3629, section 4).
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 == 0xE0) {
      len = 3, lo = 0xA0;
    } else if (b0 >= 0xE1 && b0 <= 0xEC) {
      len = 3;
    } else if (b0 == 0xED) {
      len = 3, hi = 0x9F;
    } else if (b0 >= 0xEE && b0 <= 0xEF) {
      len = 3;
    } else if (b0 == 0xF0) {
      len = 4, lo = 0x90;
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
      len = 4;
    } else if (b0 == 0xF4) {
      len = 4, hi = 0x8F;
    } else {
      return i;  // a continuation byte without a lead, or 0xC0, 0xC1, 0xF5..0xFF
    }
    if (i + len > n) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::nullopt;
}

Result<std::string> ReadUtf8TextFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return Status::Errorf("cannot open {}: {}", path, std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) text.append(buffer, got);
  if (std::ferror(file.get()))
    return Status::Errorf("cannot read {}: {}", path, std::strerror(errno));
  if (auto bad = FindInvalidUtf8(text)) {
    return Status::Errorf(
        "{}: invalid UTF-8 at byte offset {} (byte 0x{:02x}); expected a UTF-8 text file", path,
        *bad, static_cast<unsigned char>(text[*bad]));
  }
  return text;
}

std::string_view StripOneTrailingNewline(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

}  // namespace shrink
