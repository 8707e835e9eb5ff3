#include "model/bpe_tokenizer.h"

#include <queue>

#include "base/check.h"
#include "model/special_tokens.h"
#include "model/unicode.h"

namespace shrink {
namespace {

// One symbol of a word being merged: a byte range of the word, linked to its live neighbours.
struct Symbol {
  int prev;
  int next;
  size_t offset;
  size_t length;  // 0 once merged into its left neighbour
};

// A candidate merge of two adjacent symbols. Lower rank first; on equal rank the leftmost.
struct Bigram {
  int left;
  int right;
  int32_t rank;
  size_t length;  // bytes of the merged text, to detect candidates made stale by other merges
  bool operator<(const Bigram& other) const {  // "lower priority than" for std::priority_queue
    return rank > other.rank || (rank == other.rank && left > other.left);
  }
};

}  // namespace

BpeTokenizer::BpeTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  SHRINK_CHECK(vocab_.model == VocabModel::kBpe);
}

void BpeTokenizer::EncodeWord(const std::string& word, std::vector<TokenId>& out) const {
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < word.size();) {
    const size_t len = std::min(word.size() - offset, Utf8SequenceLength(word[offset]));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offset + len == word.size() ? -1 : index + 1, offset, len});
    offset += len;
  }
  auto text_of = [&](const Symbol& s) { return std::string_view(word).substr(s.offset, s.length); };

  std::priority_queue<Bigram> queue;
  auto add_bigram = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t rank = vocab_.MergeRank(text_of(symbols[left]), text_of(symbols[right]));
    if (rank < 0) return;
    queue.push({left, right, rank, symbols[left].length + symbols[right].length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_bigram(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged away, or the pair is no longer adjacent with the same extent.
    // (Symbols only grow to the right over contiguous bytes, so equal extent means equal text.)
    if (left.length == 0 || right.length == 0 || left.next != bigram.right ||
        left.length + right.length != bigram.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    add_bigram(left.prev, bigram.left);
    add_bigram(bigram.left, left.next);
  }

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

std::vector<TokenId> BpeTokenizer::Encode(std::string_view text, bool add_special,
                                          bool parse_special) const {
  std::vector<TokenId> out;
  if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  for (const TextFragment& fragment : PartitionSpecialTokens(text, vocab_, parse_special)) {
    if (fragment.is_token()) {
      out.push_back(fragment.token);
      continue;
    }
    for (const std::string& word :
         PreTokenize(text.substr(fragment.offset, fragment.length), vocab_.pre)) {
      EncodeWord(word, out);
    }
  }
  if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

std::string BpeTokenizer::TokenToPiece(TokenId id, bool render_special) const {
  if (id < 0 || id >= vocab_.size()) return "";
  const Vocab::Token& token = vocab_.tokens[id];
  if (token.attr & (kAttrUnknown | kAttrControl)) return render_special ? token.text : "";
  if (token.attr & kAttrUserDefined) return token.text;
  if (token.attr & kAttrNormal) {
    // Undo the byte-to-unicode map; llama.cpp renders a character outside it as a marker.
    std::string piece;
    for (uint32_t cpt : DecodeUtf8(token.text)) {
      const int byte = BpeCharToByte(cpt);
      if (byte >= 0) {
        piece.push_back(static_cast<char>(byte));
        continue;
      }
      piece += "[UNK_BYTE_0x";
      for (char c : CodepointToUtf8(cpt)) piece += fmt::format("{:02x}", static_cast<uint8_t>(c));
      piece += token.text + "]";
    }
    return piece;
  }
  if (token.attr & kAttrByte) {
    const int byte = ParseByteToken(token.text);  // "<0xXX>"
    if (byte >= 0) return std::string(1, static_cast<char>(byte));
  }
  return "";
}

bool BpeTokenizer::IsEndOfGeneration(TokenId id) const {
  return id >= 0 && id < vocab_.size() && vocab_.is_eog[id];
}

}  // namespace shrink
