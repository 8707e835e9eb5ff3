#include "io/message_text.h"

#include <fmt/format.h>

namespace shrink {

std::string ForMessage(std::string_view name) {
  constexpr size_t kMaxChars = 80;
  std::string out;
  for (size_t i = 0; i < name.size() && i < kMaxChars; ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kMaxChars) out += fmt::format("...({} bytes)", name.size());
  return out;
}

}  // namespace shrink
