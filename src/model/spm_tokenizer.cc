#include "model/spm_tokenizer.h"

#include <map>
#include <queue>

#include "base/check.h"
#include "model/special_tokens.h"
#include "model/unicode.h"

namespace shrink {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 "▁"

struct Symbol {
  int prev;
  int next;
  size_t offset;
  size_t length;  // 0 once merged into its left neighbour
};

// Higher score first; on equal score the leftmost.
struct Bigram {
  int left;
  int right;
  float score;
  size_t length;
  bool operator<(const Bigram& other) const {  // "lower priority than" for std::priority_queue
    return score < other.score || (score == other.score && left > other.left);
  }
};

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

SpmTokenizer::SpmTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  SHRINK_CHECK(vocab_.model == VocabModel::kSpm);
}

TokenId SpmTokenizer::ByteToken(uint8_t byte) const {
  const TokenId id = vocab_.Find(fmt::format("<0x{:02X}>", byte));
  if (id >= 0) return id;
  return vocab_.Find(std::string(1, static_cast<char>(byte)));
}

void SpmTokenizer::EncodeEscaped(const std::string& text, std::vector<TokenId>& out) const {
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    const size_t len = std::min(text.size() - offset, Utf8SequenceLength(text[offset]));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offset + len == text.size() ? -1 : index + 1, offset, len});
    offset += len;
  }
  auto range = [&](size_t offset, size_t length) {
    return std::string_view(text).substr(offset, length);
  };

  std::priority_queue<Bigram> queue;
  // For each merged text, the last pair of symbols that formed it: used to split a merged symbol
  // that is not itself a token back into its parts.
  std::map<std::string, std::pair<int, int>, std::less<>> rev_merge;
  auto add_bigram = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged =
        range(symbols[left].offset, symbols[left].length + symbols[right].length);
    const TokenId id = vocab_.Find(merged);
    if (id < 0) return;
    queue.push({left, right, vocab_.tokens[id].score, merged.size()});
    rev_merge[std::string(merged)] = {left, right};
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_bigram(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    add_bigram(left.prev, bigram.left);
    add_bigram(bigram.left, left.next);
  }

  // Emits a symbol: its token, else the parts it was merged from, else its bytes.
  auto resegment = [&](auto&& self, const Symbol& symbol) -> void {
    const std::string_view piece = range(symbol.offset, symbol.length);
    const TokenId id = vocab_.Find(piece);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    auto parts = rev_merge.find(piece);
    if (parts == rev_merge.end()) {
      for (char byte : piece) {
        const TokenId byte_id = ByteToken(static_cast<uint8_t>(byte));
        out.push_back(byte_id >= 0 ? byte_id : vocab_.unk);
      }
      return;
    }
    self(self, symbols[parts->second.first]);
    self(self, symbols[parts->second.second]);
  };
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    resegment(resegment, symbols[i]);
  }
}

std::vector<TokenId> SpmTokenizer::Encode(std::string_view text, bool add_special,
                                          bool parse_special) const {
  std::vector<TokenId> out;
  bool prev_special = true;  // the text start counts as "after a special token"
  if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  for (const TextFragment& fragment : PartitionSpecialTokens(text, vocab_, parse_special)) {
    if (fragment.is_token()) {
      out.push_back(fragment.token);
      prev_special = true;
      continue;
    }
    std::string raw;
    if (vocab_.add_space_prefix && prev_special) raw = " ";
    raw.append(text.substr(fragment.offset, fragment.length));
    EncodeEscaped(ReplaceAll(raw, " ", kSpaceMarker), out);
    prev_special = false;
  }
  if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

std::string SpmTokenizer::TokenToPiece(TokenId id, bool render_special) const {
  if (id < 0 || id >= vocab_.size()) return "";
  const Vocab::Token& token = vocab_.tokens[id];
  if (token.attr & (kAttrUnknown | kAttrControl)) return render_special ? token.text : "";
  if (token.attr & kAttrUserDefined) return token.text;
  if (token.attr & kAttrNormal) return ReplaceAll(token.text, kSpaceMarker, " ");
  if (token.attr & kAttrByte) {
    const int byte = ParseByteToken(token.text);  // "<0xXX>"
    if (byte >= 0) return std::string(1, static_cast<char>(byte));
  }
  return "";
}

bool SpmTokenizer::IsEndOfGeneration(TokenId id) const {
  return id >= 0 && id < vocab_.size() && vocab_.is_eog[id];
}

}  // namespace shrink
