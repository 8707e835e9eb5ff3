#include "text/bpe_tokenizer.h"

#include <optional>

#include "base/check.h"
#include "text/symbol_merge.h"
#include "text/unicode.h"

namespace shrink {

BpeTokenizer::BpeTokenizer(Vocab vocab) : VocabTokenizer(std::move(vocab)) {
  SHRINK_CHECK(vocab_.model == VocabModel::kBpe);
}

void BpeTokenizer::EncodeWord(std::string_view word, std::vector<TokenId>& out) const {
  auto text_of = [&](const MergeSymbol& s) { return word.substr(s.offset, s.length); };
  // Lower merge rank first.
  const std::vector<MergeSymbol> symbols = MergeAdjacentSymbols(
      word, [&](const std::vector<MergeSymbol>& sym, int left, int right) -> std::optional<double> {
        const int32_t rank = vocab_.MergeRank(text_of(sym[left]), text_of(sym[right]));
        if (rank < 0) return std::nullopt;
        return -static_cast<double>(rank);
      });

  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view text = text_of(symbols[i]);
    const TokenId id = vocab_.Find(text);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // No token for the symbol: llama.cpp looks each raw byte up as a one-byte token text.
    for (char byte : text) {
      const TokenId byte_id = vocab_.Find(std::string_view(&byte, 1));
      if (byte_id >= 0) out.push_back(byte_id);
    }
  }
}

void BpeTokenizer::EncodeFragment(std::string_view fragment, bool /*after_special*/,
                                  std::vector<TokenId>& out) const {
  for (const std::string& word : PreTokenize(fragment, vocab_.pre)) EncodeWord(word, out);
}

std::string BpeTokenizer::NormalPiece(const std::string& token_text) const {
  // Undo the byte-to-unicode map; llama.cpp renders a character outside it as a marker.
  std::string piece;
  for (uint32_t cpt : DecodeUtf8(token_text)) {
    const int byte = BpeCharToByte(cpt);
    if (byte >= 0) {
      piece.push_back(static_cast<char>(byte));
      continue;
    }
    piece += "[UNK_BYTE_0x";
    for (char c : CodepointToUtf8(cpt)) piece += fmt::format("{:02x}", static_cast<uint8_t>(c));
    piece += token_text + "]";
  }
  return piece;
}

}  // namespace shrink
