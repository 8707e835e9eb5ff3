// Text input for evaluation: a whole file read into memory and checked to be well-formed UTF-8.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace shrink {

// Returns the byte offset of the first byte that does not start a well-formed UTF-8 sequence (RFC
// 3629: no overlong forms, no surrogates U+D800..DFFF, nothing above U+10FFFF, no truncated
// sequence), or nullopt when all of `text` is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view text);

// Reads all of `path`. Errors: the file cannot be opened or read ("cannot open x.txt: No such file
// or directory"), or it is not UTF-8 ("x.txt: invalid UTF-8 at byte offset 1234 (byte 0xff)").
Result<std::string> ReadUtf8TextFile(const std::string& path);

// llama.cpp's `-f FILE` drops exactly one trailing '\n' from the text; the perplexity protocol does
// too.
std::string_view StripOneTrailingNewline(std::string_view text);

}  // namespace shrink
