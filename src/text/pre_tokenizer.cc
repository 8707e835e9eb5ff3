#include "text/pre_tokenizer.h"

#include <array>

#include "io/message_text.h"
#include "text/unicode.h"

namespace shrink {
namespace {

// Pieces are described by their lengths in codepoints, in order. A splitter refines each piece
// independently: it sees only [begin, end) and appends the lengths of the sub-pieces.
using Lengths = std::vector<size_t>;

// GPT-2's regex 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ over one
// piece, as a left-to-right state machine. Outside the piece there is "no character" (flags 0),
// which matches none of the classes and ends every run.
void SplitGpt2(const std::vector<uint32_t>& cpts, size_t begin, size_t end, Lengths& out) {
  auto cpt_at = [&](size_t i) -> int64_t { return i < end ? cpts[i] : -1; };
  auto flags_at = [&](size_t i) { return i < end ? FlagsOf(cpts[i]) : CodepointFlags{}; };
  // "Other": not whitespace, letter or number, and a character at all.
  auto is_other = [](CodepointFlags f) {
    return f.bits != 0 && !f.is_whitespace() && !f.is_letter() && !f.is_number();
  };
  size_t pos = begin;
  size_t prev = begin;
  auto emit = [&](size_t to) {
    if (to > prev) out.push_back(to - prev);
    prev = to;
  };
  while (pos < end) {
    const int64_t c = cpt_at(pos);
    // 's 't 'm 'd 're 've 'll (lower case only, as the regex).
    if (c == '\'' && pos + 1 < end) {
      const int64_t c1 = cpt_at(pos + 1);
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        pos += 2;
        emit(pos);
        continue;
      }
      if (pos + 2 < end) {
        const int64_t c2 = cpt_at(pos + 2);
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          pos += 3;
          emit(pos);
          continue;
        }
      }
    }
    // An optional leading space joins the run of the class of the character after it.
    const size_t skip = c == ' ' ? 1 : 0;
    const CodepointFlags head = flags_at(pos + skip);
    if (head.is_letter() || head.is_number() || is_other(head)) {
      bool (*same)(CodepointFlags) =
          head.is_letter() ? +[](CodepointFlags f) { return f.is_letter(); }
          : head.is_number()
              ? +[](CodepointFlags f) { return f.is_number(); }
              : +[](CodepointFlags f) {
                  return f.bits != 0 && !f.is_whitespace() && !f.is_letter() && !f.is_number();
                };
      pos += skip;
      while (same(flags_at(pos))) ++pos;
      emit(pos);
      continue;
    }
    size_t spaces = 0;
    while (flags_at(pos + spaces).is_whitespace()) ++spaces;
    if (spaces > 1 && pos + spaces < end) {
      // \s+(?!\S): leave the last whitespace to prefix the next word.
      pos += spaces - 1;
      emit(pos);
      continue;
    }
    if (spaces > 0) {
      pos += spaces;
      emit(pos);
      continue;
    }
    emit(++pos);  // no alternative matched: the character stands alone
  }
}

// A regex that matches a fixed pattern at a position (length, 0 = no match), applied as std::regex
// iteration does: leftmost matches, and the text between two matches is a piece of its own.
template <typename MatchAt>
void SplitByMatches(size_t begin, size_t end, Lengths& out, MatchAt match_at) {
  size_t gap_start = begin;
  size_t pos = begin;
  while (pos < end) {
    const size_t len = match_at(pos, end);
    if (len == 0) {
      ++pos;
      continue;
    }
    if (pos > gap_start) out.push_back(pos - gap_start);
    out.push_back(len);
    pos += len;
    gap_start = pos;
  }
  if (end > gap_start) out.push_back(end - gap_start);
}

bool IsAsciiDigit(uint32_t c) { return c >= '0' && c <= '9'; }

// [\p{P}\$\+<=>\^~\|]: llama.cpp matches it on a "collapsed" text where ASCII stays itself and
// other codepoints are reduced to their category (whitespace first), so outside ASCII only a
// codepoint whose category is punctuation and that is not whitespace matches.
bool IsDefaultPunctuation(uint32_t c) {
  if (c < 128) {
    switch (c) {
      case '$':
      case '+':
      case '<':
      case '=':
      case '>':
      case '^':
      case '~':
      case '|':
        return true;
      default:
        return FlagsOf(c).is_punctuation();
    }
  }
  const CodepointFlags f = FlagsOf(c);
  return !f.is_whitespace() && f.category() == CodepointFlags::kPunctuation;
}

// \p{N} on the collapsed text: ASCII digits, or a non-whitespace codepoint of category number.
bool IsCollapsedNumber(uint32_t c) {
  if (c < 128) return IsAsciiDigit(c);
  const CodepointFlags f = FlagsOf(c);
  return !f.is_whitespace() && f.category() == CodepointFlags::kNumber;
}

template <typename Splitter>
Lengths Refine(const std::vector<uint32_t>& cpts, const Lengths& pieces, Splitter split) {
  Lengths out;
  out.reserve(pieces.size() * 2);
  size_t start = 0;
  for (size_t len : pieces) {
    split(cpts, start, start + len, out);
    start += len;
  }
  return out;
}

void SplitPunctuationRuns(const std::vector<uint32_t>& cpts, size_t b, size_t e, Lengths& out) {
  SplitByMatches(b, e, out, [&](size_t pos, size_t end) {
    size_t n = 0;
    while (pos + n < end && IsDefaultPunctuation(cpts[pos + n])) ++n;
    return n;
  });
}

void SplitNumberRuns(const std::vector<uint32_t>& cpts, size_t b, size_t e, Lengths& out) {
  SplitByMatches(b, e, out, [&](size_t pos, size_t end) {
    size_t n = 0;
    while (pos + n < end && IsCollapsedNumber(cpts[pos + n])) ++n;
    return n;
  });
}

void SplitEachNumber(const std::vector<uint32_t>& cpts, size_t b, size_t e, Lengths& out) {
  SplitByMatches(b, e, out, [&](size_t pos, size_t) -> size_t {
    return IsCollapsedNumber(cpts[pos]) ? 1 : 0;
  });
}

void SplitThreeDigits(const std::vector<uint32_t>& cpts, size_t b, size_t e, Lengths& out) {
  SplitByMatches(b, e, out, [&](size_t pos, size_t end) -> size_t {
    if (pos + 3 > end) return 0;
    return IsAsciiDigit(cpts[pos]) && IsAsciiDigit(cpts[pos + 1]) && IsAsciiDigit(cpts[pos + 2])
               ? 3
               : 0;
  });
}

std::array<std::string, 256> MakeByteToBpeChar() {
  std::array<std::string, 256> table;
  std::array<bool, 256> printable{};
  for (int b = 0x21; b <= 0x7E; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  uint32_t next = 256;  // bytes without a printable self are numbered from U+0100 in byte order
  for (int b = 0; b < 256; ++b) table[b] = CodepointToUtf8(printable[b] ? b : next++);
  return table;
}

}  // namespace

Result<PreTokenizerKind> PreTokenizerFromName(std::string_view name) {
  if (name.empty() || name == "default") return PreTokenizerKind::kDefault;
  for (std::string_view alias :
       {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
        "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling"}) {
    if (name == alias) return PreTokenizerKind::kGpt2;
  }
  for (std::string_view alias : {"starcoder", "smollm", "refact", "command-r", "codeshell",
                                 "exaone", "minerva-7b", "mellum2"}) {
    if (name == alias) return PreTokenizerKind::kStarcoder;
  }
  return Status::Errorf(
      "unsupported pre-tokenizer '{}' (supported: default, gpt-2, starcoder, smollm and their "
      "llama.cpp aliases)",
      ForMessage(name));
}

std::vector<size_t> SplitWords(const std::vector<uint32_t>& cpts, PreTokenizerKind kind) {
  Lengths pieces;
  if (!cpts.empty()) pieces.push_back(cpts.size());
  switch (kind) {
    case PreTokenizerKind::kDefault:
      pieces = Refine(cpts, pieces, SplitPunctuationRuns);
      pieces = Refine(cpts, pieces, SplitGpt2);
      pieces = Refine(cpts, pieces, SplitNumberRuns);
      pieces = Refine(cpts, pieces, SplitThreeDigits);
      break;
    case PreTokenizerKind::kGpt2:
      pieces = Refine(cpts, pieces, SplitGpt2);
      break;
    case PreTokenizerKind::kStarcoder:
      pieces = Refine(cpts, pieces, SplitEachNumber);
      pieces = Refine(cpts, pieces, SplitGpt2);
      break;
  }
  return pieces;
}

std::vector<std::string> PreTokenize(std::string_view text, PreTokenizerKind kind) {
  const std::vector<uint32_t> cpts = DecodeUtf8(text);
  const Lengths lengths = SplitWords(cpts, kind);
  std::vector<std::string> words;
  words.reserve(lengths.size());
  size_t start = 0;
  std::string utf8;
  for (size_t len : lengths) {
    std::string& word = words.emplace_back();
    for (size_t i = start; i < start + len; ++i) {
      utf8.clear();
      AppendUtf8(cpts[i], utf8);
      for (char byte : utf8) word += ByteToBpeChar(static_cast<uint8_t>(byte));
    }
    start += len;
  }
  return words;
}

const std::string& ByteToBpeChar(uint8_t b) {
  static const std::array<std::string, 256> table = MakeByteToBpeChar();
  return table[b];
}

int BpeCharToByte(uint32_t cpt) {
  static const std::array<int, 512> inverse = [] {
    std::array<int, 512> inv;
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[DecodeUtf8(ByteToBpeChar(b))[0]] = b;
    return inv;
  }();
  return cpt < inverse.size() ? inverse[cpt] : -1;
}

}  // namespace shrink
