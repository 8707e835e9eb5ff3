// Pre-tokenizers for byte-level BPE: split text into words before merges, as llama.cpp does for the
// tokenizer.ggml.pre names we support, then map each word's bytes through GPT-2's byte-to-unicode
// table.
//
// llama.cpp describes each pre-tokenizer as a list of regexes applied in turn, each one splitting
// the pieces the previous one produced. We implement the regexes of the supported names by hand:
//   "default":             [\p{P}\$\+<=>\^~\|]+ , GPT-2's regex, \p{N}+ , [0-9][0-9][0-9]
//   "gpt-2" (and aliases): GPT-2's regex
//                          's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
//   "starcoder", "smollm": \p{N} (each digit alone), then GPT-2's regex
// Each regex keeps every character: the text between matches becomes a piece of its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shrink {

enum class PreTokenizerKind { kDefault, kGpt2, kStarcoder };

// Maps a tokenizer.ggml.pre value to its splitting rules (empty = "default", as llama.cpp, which
// warns).
Result<PreTokenizerKind> PreTokenizerFromName(std::string_view name);

// Splits `text` (UTF-8; invalid bytes become U+FFFD) and returns the words, each byte-level encoded
// (GPT-2 byte-to-unicode), ready for BPE merges.
std::vector<std::string> PreTokenize(std::string_view text, PreTokenizerKind kind);

// Splits decoded codepoints: returns word lengths in codepoints (they sum to cpts.size()).
std::vector<size_t> SplitWords(const std::vector<uint32_t>& cpts, PreTokenizerKind kind);

// GPT-2's byte-to-unicode map: the UTF-8 text standing for byte `b` in byte-level BPE vocabularies.
const std::string& ByteToBpeChar(uint8_t b);
// Inverse: the byte a codepoint stands for, or -1 when it stands for none.
int BpeCharToByte(uint32_t cpt);

}  // namespace shrink
