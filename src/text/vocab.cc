#include "text/vocab.h"

#include <algorithm>
#include <iterator>
#include <string>

namespace shrink {

uint32_t TokenTypeToAttr(int64_t token_type) {
  switch (token_type) {
    case 1:
      return kAttrNormal;
    case 2:
      return kAttrUnknown;
    case 3:
      return kAttrControl;
    case 4:
      return kAttrUserDefined;
    case 5:
      return kAttrUnused;
    case 6:
      return kAttrByte;
    default:
      return kAttrUndefined;
  }
}

int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(text[3]), lo = hex(text[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

namespace {

std::string MergeKey(std::string_view left, std::string_view right) {
  std::string key;
  key.reserve(left.size() + 1 + right.size());
  key.append(left);
  key.push_back('\0');
  key.append(right);
  return key;
}

template <size_t N>
bool IsOneOf(std::string_view text, const std::string_view (&names)[N]) {
  return std::find(std::begin(names), std::end(names), text) != std::end(names);
}

// Texts llama.cpp recognises (llama-vocab.cpp, "auto-detect special tokens by text").
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
constexpr std::string_view kEogTexts[] = {"<|eot_id|>",
                                          "<|im_end|>",
                                          "<|end|>",
                                          "<|return|>",
                                          "<|call|>",
                                          "<|flush|>",
                                          "<|calls|>",
                                          "<end_of_turn>",
                                          "<|endoftext|>",
                                          "</s>",
                                          "<|eom_id|>",
                                          "<EOT>",
                                          "_<EOT>",
                                          "[EOT]",
                                          "[EOS]",
                                          "<|end_of_text|>",
                                          "<end_of_utterance>",
                                          "<eos>",
                                          "<turn|>",
                                          "<|tool_response>",
                                          "<｜end▁of▁sentence｜>",
                                          "[e~["};

}  // namespace

Status Vocab::Finalize() {
  if (tokens.empty()) return Status::Error("tokenizer with no vocabulary (no tokens)");
  const TokenId n = size();
  token_to_id.clear();
  token_to_id.reserve(tokens.size());
  for (TokenId id = 0; id < n; ++id) {
    if (tokens[id].text.empty()) tokens[id].text = "[EMPTY_" + std::to_string(id) + "]";
    token_to_id[tokens[id].text] = id;
  }
  merge_rank.clear();
  merge_rank.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    // Split at the first space after the first character, so a merge may start with a space.
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    std::string left, right;
    if (space != std::string::npos) {
      left = merge.substr(0, space);
      right = merge.substr(space + 1);
    }
    merge_rank.emplace(MergeKey(left, right), static_cast<int32_t>(rank));
  }
  for (TokenId* id : {&bos, &eos, &eot, &eom, &unk}) {
    if (*id >= n) *id = -1;
  }

  // Special tokens found by text; the lowest id wins when several texts match.
  auto mark_control = [&](TokenId id) { tokens[id].attr |= kAttrControl; };
  TokenId fim_pad = -1, fim_rep = -1, fim_sep = -1;
  for (TokenId id = 0; id < n; ++id) {
    const std::string& text = tokens[id].text;
    if (eot < 0 && IsOneOf(text, kEotTexts)) eot = id, mark_control(id);
    if (eom < 0 && IsOneOf(text, kEomTexts)) eom = id, mark_control(id);
    if (fim_pad < 0 && IsOneOf(text, kFimPadTexts)) fim_pad = id, mark_control(id);
    if (fim_rep < 0 && IsOneOf(text, kFimRepTexts)) fim_rep = id, mark_control(id);
    if (fim_sep < 0 && IsOneOf(text, kFimSepTexts)) fim_sep = id, mark_control(id);
  }
  is_eog.assign(n, false);
  for (TokenId id = 0; id < n; ++id) {
    if (IsOneOf(tokens[id].text, kEogTexts)) is_eog[id] = true, mark_control(id);
  }
  for (TokenId id : {fim_pad, fim_rep, fim_sep, eos, eot, eom}) {
    if (id >= 0) is_eog[id] = true;
  }

  special_tokens.clear();
  for (TokenId id = 0; id < n; ++id) {
    if (tokens[id].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      special_tokens.push_back(id);
    }
  }
  // Longest first, so "<|im_start|>" is found before any shorter token inside it. std::sort, not
  // stable_sort: llama.cpp sorts the same ascending list with the same comparison, so with the same
  // standard library, tokens of equal length (whose order matters only when they overlap) come out
  // in the same order.
  std::sort(special_tokens.begin(), special_tokens.end(),
            [&](TokenId a, TokenId b) { return tokens[a].text.size() > tokens[b].text.size(); });
  special_trie = TextTrie();
  for (size_t rank = 0; rank < special_tokens.size(); ++rank) {
    special_trie.Insert(tokens[special_tokens[rank]].text, static_cast<int32_t>(rank));
  }
  return Status::Ok();
}

TokenId Vocab::Find(std::string_view text) const {
  auto it = token_to_id.find(text);
  return it == token_to_id.end() ? -1 : it->second;
}

int32_t Vocab::MergeRank(std::string_view left, std::string_view right) const {
  auto it = merge_rank.find(MergeKey(left, right));
  return it == merge_rank.end() ? -1 : it->second;
}

}  // namespace shrink
