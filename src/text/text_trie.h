// TextTrie: a byte trie over a set of strings, answering "which stored strings start at this
// position of a text?" in time proportional to the longest match, not to the number of strings.
//
// The special-token partition uses it to learn, in one pass over the input, which of a vocabulary's
// special tokens (Gemma-3 has 6,414) occur at all, so only those are searched for.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace shrink {

class TextTrie {
 public:
  TextTrie() { root_.fill(-1); }

  // Stores `key` with `value` (>= 0); a key stored twice keeps the last value. An empty key is
  // ignored (it would match everywhere).
  void Insert(std::string_view key, int32_t value);

  // Calls fn(value) for every stored key that is a prefix of `text`, shortest first.
  template <typename Fn>
  void ForEachPrefixOf(std::string_view text, Fn&& fn) const {
    if (text.empty()) return;
    int32_t node = root_[static_cast<uint8_t>(text[0])];
    for (size_t i = 1; node >= 0; ++i) {
      if (nodes_[node].value >= 0) fn(nodes_[node].value);
      if (i == text.size()) break;
      node = Child(node, static_cast<uint8_t>(text[i]));
    }
  }

  bool empty() const { return nodes_.empty(); }

 private:
  struct Node {
    int32_t value = -1;                                 // -1: no key ends here
    std::vector<std::pair<uint8_t, int32_t>> children;  // (byte, node); few per node, scanned
  };
  int32_t Child(int32_t node, uint8_t byte) const;

  std::array<int32_t, 256> root_;  // first byte -> node, -1 when no key starts with it
  std::vector<Node> nodes_;
};

}  // namespace shrink
