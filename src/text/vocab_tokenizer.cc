#include "text/vocab_tokenizer.h"

#include "text/special_tokens.h"

namespace shrink {

std::vector<TokenId> VocabTokenizer::Encode(std::string_view text, bool add_special,
                                            bool parse_special) const {
  std::vector<TokenId> out;
  if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  bool after_special = true;  // the start of the text counts as "after a special token"
  for (const TextFragment& fragment : PartitionSpecialTokens(text, vocab_, parse_special)) {
    if (fragment.is_token()) {
      out.push_back(fragment.token);
      after_special = true;
      continue;
    }
    EncodeFragment(text.substr(fragment.offset, fragment.length), after_special, out);
    after_special = false;
  }
  if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

std::string VocabTokenizer::TokenToPiece(TokenId id, bool render_special) const {
  if (id < 0 || id >= vocab_.size()) return "";
  const Vocab::Token& token = vocab_.tokens[id];
  if (token.attr & (kAttrUnknown | kAttrControl)) return render_special ? token.text : "";
  if (token.attr & kAttrUserDefined) return token.text;
  if (token.attr & kAttrNormal) return NormalPiece(token.text);
  if (token.attr & kAttrByte) {
    const int byte = ParseByteToken(token.text);  // "<0xXX>"
    if (byte >= 0) return std::string(1, static_cast<char>(byte));
  }
  return "";
}

bool VocabTokenizer::IsEndOfGeneration(TokenId id) const {
  return id >= 0 && id < vocab_.size() && vocab_.is_eog[id];
}

}  // namespace shrink
