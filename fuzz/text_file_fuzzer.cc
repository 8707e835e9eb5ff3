// Fuzzes the UTF-8 text input of evaluation (ReadUtf8TextFile, FindInvalidUtf8) against an
// independent decoder written here from RFC 3629's definition (code point ranges, not the reader's
// table of lead bytes): both must agree on whether the text is valid and, if not, on the offset of
// the first bad sequence.
#include <optional>
#include <string_view>

#include "eval/text_file.h"
#include "fuzz_file.h"

namespace shrink {
namespace {

// The offset of the first byte that does not start a well-formed sequence: decode the sequence its
// lead byte announces, then reject truncation, bad continuation bytes, overlong forms, surrogates
// and values above U+10FFFF.
std::optional<size_t> ReferenceFirstInvalid(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    const unsigned b = s[i];
    size_t len;
    uint32_t cp;
    if (b < 0x80) {
      len = 1, cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return i;
    }
    // The reader reports the lead byte's offset for any fault inside the sequence.
    size_t k = 1;
    for (; k < len && i + k < text.size() && (s[i + k] & 0xC0) == 0x80; ++k) {
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (k < len) return i;
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::nullopt;
}

}  // namespace
}  // namespace shrink

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<size_t> expected = ReferenceFirstInvalid(bytes);
  const std::optional<size_t> got = FindInvalidUtf8(bytes);
  if (got != expected) {
    std::fprintf(stderr, "FindInvalidUtf8 says %zd, the reference %zd\n",
                 got ? static_cast<ssize_t>(*got) : -1,
                 expected ? static_cast<ssize_t>(*expected) : -1);
  }
  SHRINK_CHECK(got == expected);

  fuzz::InputFile input(data, size);
  auto text = ReadUtf8TextFile(input.path());
  SHRINK_CHECK(text.ok() == !expected.has_value());
  if (text.ok()) {
    SHRINK_CHECK(*text == bytes);
    const std::string_view stripped = StripOneTrailingNewline(*text);
    SHRINK_CHECK(stripped.size() + (bytes.ends_with('\n') ? 1 : 0) == bytes.size());
    fuzz::CountOutcome("valid UTF-8, read");
  } else {
    fuzz::CheckError(text.status(), input.path());
  }
  return 0;
}
