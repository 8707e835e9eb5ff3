// Greedy pairwise merging of adjacent symbols: the core of both BPE (merge ranks) and
// SentencePiece-style (token scores) tokenization.
//
// The text starts as one symbol per UTF-8 character. Repeatedly, the adjacent pair with the highest
// priority is merged (the right symbol absorbed into the left; on equal priority the leftmost pair
// first), until no adjacent pair has a priority. Candidates made stale by an earlier merge are
// skipped.
#pragma once

#include <cstddef>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "text/unicode.h"

namespace shrink {

// A byte range of the text, linked to its live neighbours (-1 at the ends). length == 0 once the
// symbol has been absorbed into its left neighbour.
struct MergeSymbol {
  int prev;
  int next;
  size_t offset;
  size_t length;
};

// `priority(symbols, left, right)` -> std::optional<double>: the priority of merging the adjacent
// symbols `left` and `right`, or nullopt when they may not merge. Returns the final symbols; walk
// them from index 0 through `next` (empty for empty text).
template <typename PriorityFn>
std::vector<MergeSymbol> MergeAdjacentSymbols(std::string_view text, PriorityFn&& priority) {
  std::vector<MergeSymbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    const size_t len = std::min(text.size() - offset, Utf8SequenceLength(text[offset]));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offset + len == text.size() ? -1 : index + 1, offset, len});
    offset += len;
  }

  struct Candidate {
    int left;
    int right;
    double priority;
    size_t length;  // bytes of the merged text, to detect candidates made stale by other merges
    bool operator<(const Candidate& other) const {  // "lower priority than", for priority_queue
      return priority < other.priority || (priority == other.priority && left > other.left);
    }
  };
  std::priority_queue<Candidate> queue;
  auto add_candidate = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::optional<double> p = priority(symbols, left, right);
    if (p) queue.push({left, right, *p, symbols[left].length + symbols[right].length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_candidate(i - 1, i);

  while (!queue.empty()) {
    const Candidate candidate = queue.top();
    queue.pop();
    MergeSymbol& left = symbols[candidate.left];
    MergeSymbol& right = symbols[candidate.right];
    // Stale: one side was absorbed, or a side grew since (symbols only grow to the right over
    // contiguous bytes, so an unchanged total length means the same pair of texts).
    if (left.length == 0 || right.length == 0 || left.next != candidate.right ||
        left.length + right.length != candidate.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = candidate.left;
    add_candidate(left.prev, candidate.left);
    add_candidate(candidate.left, left.next);
  }
  return symbols;
}

}  // namespace shrink
