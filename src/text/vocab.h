// Vocab: the token table shared by the GGUF tokenizers (tokenizer.ggml.* metadata): token texts,
// scores, attributes, BPE merges, special ids and the add_bos/add_eos flags, plus the lookups
// derived from them (text → id, merge ranks, special tokens longest first, end-of-generation set).
//
// Build one by filling the public fields, then calling Finalize(); LoadVocabFromGguf does both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "text/pre_tokenizer.h"
#include "text/text_trie.h"
#include "text/tokenizer.h"

namespace shrink {

class GgufFile;

// Token attributes, as llama.cpp's llama_token_attr (bit flags).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
  kAttrNormalized = 1 << 6,
  kAttrLstrip = 1 << 7,
  kAttrRstrip = 1 << 8,
  kAttrSingleWord = 1 << 9,
};

// Maps a GGUF tokenizer.ggml.token_type value (1 normal, 2 unknown, 3 control, 4 user-defined,
// 5 unused, 6 byte, else undefined) to its attribute.
uint32_t TokenTypeToAttr(int64_t token_type);

// The byte a "<0xXX>" token text stands for (hex digits in either case), or -1 for any other text.
int ParseByteToken(std::string_view text);

enum class VocabModel { kBpe, kSpm };

struct Vocab {
  struct Token {
    std::string text;
    float score = 0.0f;
    uint32_t attr = kAttrNormal;
  };

  VocabModel model = VocabModel::kBpe;
  PreTokenizerKind pre = PreTokenizerKind::kDefault;  // BPE only
  std::vector<Token> tokens;
  // BPE merges "left right" in rank order (rank = index).
  std::vector<std::string> merges;
  TokenId bos = -1, eos = -1, eot = -1, eom = -1, unk = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;  // SPM: prefix raw text with a space ("▁")

  // Builds the derived lookups. Like llama.cpp: empty token texts become "[EMPTY_<id>]"; special
  // ids out of range become -1; EOT/EOM/FIM tokens are found by their text ("<|im_end|>",
  // "<|endoftext|>",
  // ...), marked control, and with EOS/EOT/EOM form the end-of-generation set.
  // Errors: no tokens at all ("tokenizer with no vocabulary").
  Status Finalize();

  // Derived (by Finalize).
  // Hash of a string or string_view, so lookups by string_view need no std::string.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  template <typename T>
  using TextMap = std::unordered_map<std::string, T, TextHash, std::equal_to<>>;
  TextMap<TokenId> token_to_id;         // the last id wins for duplicate texts
  TextMap<int32_t> merge_rank;          // key: left + '\0' + right; first wins
  std::vector<TokenId> special_tokens;  // control/user-defined/unknown, longest text first
  TextTrie special_trie;                // special token text -> its index in special_tokens
  std::vector<bool> is_eog;

  TokenId Find(std::string_view text) const;                               // -1 when absent
  int32_t MergeRank(std::string_view left, std::string_view right) const;  // -1 when no merge
  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
};

// Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,*_token_id,add_*} from `file`.
// Errors name the file and key.
Result<Vocab> LoadVocabFromGguf(const GgufFile& file);

}  // namespace shrink
