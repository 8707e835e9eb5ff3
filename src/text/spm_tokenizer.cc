#include "text/spm_tokenizer.h"

#include <optional>

#include "base/check.h"
#include "text/symbol_merge.h"
#include "text/unicode.h"

namespace shrink {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 "▁"

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace

SpmTokenizer::SpmTokenizer(Vocab vocab) : VocabTokenizer(std::move(vocab)) {
  SHRINK_CHECK(vocab_.model == VocabModel::kSpm);
}

TokenId SpmTokenizer::ByteToken(uint8_t byte) const {
  const TokenId id = vocab_.Find(fmt::format("<0x{:02X}>", byte));
  if (id >= 0) return id;
  return vocab_.Find(std::string(1, static_cast<char>(byte)));
}

void SpmTokenizer::EncodeEscaped(std::string_view text, std::vector<TokenId>& out) const {
  auto range = [&](size_t offset, size_t length) { return text.substr(offset, length); };
  // Best token score first; only pairs whose concatenation is a token merge.
  const std::vector<MergeSymbol> symbols = MergeAdjacentSymbols(
      text, [&](const std::vector<MergeSymbol>& sym, int left, int right) -> std::optional<double> {
        const TokenId id =
            vocab_.Find(range(sym[left].offset, sym[left].length + sym[right].length));
        if (id < 0) return std::nullopt;
        return vocab_.tokens[id].score;
      });

  // Every merge formed a token, so a final symbol is a token or a single character without one,
  // which falls back to its bytes. (llama.cpp's resegment also keeps a table to split a merged
  // symbol that is not a token back into its parts; no merge makes one, so that path never runs.)
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = range(symbols[i].offset, symbols[i].length);
    const TokenId id = vocab_.Find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char byte : piece) {
      const TokenId byte_id = ByteToken(static_cast<uint8_t>(byte));
      out.push_back(byte_id >= 0 ? byte_id : vocab_.unk);
    }
  }
}

void SpmTokenizer::EncodeFragment(std::string_view fragment, bool after_special,
                                  std::vector<TokenId>& out) const {
  std::string raw;
  if (vocab_.add_space_prefix && after_special) raw = " ";
  raw.append(fragment);
  EncodeEscaped(ReplaceAll(raw, " ", kSpaceMarker), out);
}

std::string SpmTokenizer::NormalPiece(const std::string& token_text) const {
  return ReplaceAll(token_text, kSpaceMarker, " ");
}

}  // namespace shrink
