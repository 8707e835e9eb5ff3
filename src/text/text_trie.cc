#include "text/text_trie.h"

namespace shrink {

int32_t TextTrie::Child(int32_t node, uint8_t byte) const {
  for (const auto& [b, child] : nodes_[node].children) {
    if (b == byte) return child;
  }
  return -1;
}

void TextTrie::Insert(std::string_view key, int32_t value) {
  if (key.empty()) return;
  auto new_node = [&] {
    nodes_.emplace_back();
    return static_cast<int32_t>(nodes_.size() - 1);
  };
  int32_t& first = root_[static_cast<uint8_t>(key[0])];
  if (first < 0) first = new_node();
  int32_t node = first;
  for (size_t i = 1; i < key.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(key[i]);
    int32_t child = Child(node, byte);
    if (child < 0) {
      child = new_node();  // may reallocate nodes_: index, never hold a reference across it
      nodes_[node].children.emplace_back(byte, child);
    }
    node = child;
  }
  nodes_[node].value = value;
}

}  // namespace shrink
