#include "text/llama2c_tokenizer.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "text/symbol_merge.h"

namespace shrink {

Llama2cTokenizer::Llama2cTokenizer(std::vector<Entry> vocab) : vocab_(std::move(vocab)) {
  for (TokenId id = 0; id < static_cast<TokenId>(vocab_.size()); ++id) {
    ids_.emplace(vocab_[id].text, id);  // first wins for duplicate texts
  }
}

TokenId Llama2cTokenizer::Find(std::string_view text) const {
  auto it = ids_.find(std::string(text));
  return it == ids_.end() ? -1 : it->second;
}

std::vector<TokenId> Llama2cTokenizer::Encode(std::string_view text, bool add_special,
                                              bool parse_special) const {
  std::vector<TokenId> tokens;
  if (add_special) tokens.push_back(1);
  if (text.empty()) return tokens;
  // run.c: a dummy " " token first, then one token per UTF-8 character (bytes + 3 for a character
  // with no token), then repeatedly merge the adjacent pair whose concatenation is the best-scoring
  // token (leftmost on ties). MergeAdjacentSymbols does the same greedy merging with a queue
  // instead of run.c's rescans, which are quadratic in the text length.
  std::string padded;
  const bool dummy_prefix = Find(" ") >= 0;
  if (dummy_prefix) padded = " ";
  padded.append(text);
  const std::string_view all = padded;
  auto text_of = [&](const MergeSymbol& s) { return all.substr(s.offset, s.length); };
  const std::vector<MergeSymbol> symbols = MergeAdjacentSymbols(
      all, [&](const std::vector<MergeSymbol>& sym, int left, int right) -> std::optional<double> {
        // The dummy space is its own token and may merge with what follows, like any token.
        if (Find(text_of(sym[left])) < 0 || Find(text_of(sym[right])) < 0) return std::nullopt;
        const TokenId id = Find(all.substr(sym[left].offset, sym[left].length + sym[right].length));
        if (id < 0) return std::nullopt;
        return vocab_[id].score;
      });
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text_of(symbols[i]);
    const TokenId id = Find(piece);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (char byte : piece) tokens.push_back(static_cast<uint8_t>(byte) + 3);
    }
  }
  return tokens;
}

std::string Llama2cTokenizer::TokenToPiece(TokenId id, bool render_special) const {
  return TokenToPieceAfter(-1, id, render_special);
}

std::string Llama2cTokenizer::TokenToPieceAfter(TokenId prev, TokenId id,
                                                bool render_special) const {
  if (id < 0 || id >= vocab_size()) return "";
  if (id <= 2) return render_special ? vocab_[id].text : "";
  std::string_view piece = vocab_[id].text;
  if (prev == 1 && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
  unsigned int byte = 0;
  char tail = 0;
  // "<0xXX>" exactly: two hex digits then '>'.
  if (piece.size() == 6 && piece.substr(0, 3) == "<0x" && piece[5] == '>' &&
      std::sscanf(std::string(piece.substr(3, 3)).c_str(), "%2x%c", &byte, &tail) == 2 &&
      tail == '>') {
    return std::string(1, static_cast<char>(byte));
  }
  return std::string(piece);
}

Result<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path,
                                                        int32_t vocab_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Errorf("{}: cannot open tokenizer file", path);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (vocab_size <= 0) {
    return Status::Errorf("{}: tokenizer with no vocabulary (vocab_size {})", path, vocab_size);
  }
  if (vocab_size < 259) {
    return Status::Errorf("{}: vocab_size {} is too small for the 3 + 256 reserved tokens", path,
                          vocab_size);
  }
  size_t offset = 0;
  auto need = [&](size_t n, std::string_view what, int32_t index) -> Status {
    if (data.size() - offset < n) {
      return Status::Errorf("{}: token {}: {} at offset {} runs past end of file (size {})", path,
                            index, what, offset, data.size());
    }
    return Status::Ok();
  };
  auto read = [&](void* dst, size_t n, std::string_view what, int32_t index) -> Status {
    SHRINK_RETURN_IF_ERROR(need(n, what, index));
    std::memcpy(dst, data.data() + offset, n);
    offset += n;
    return Status::Ok();
  };
  int32_t max_token_length = 0;
  SHRINK_RETURN_IF_ERROR(read(&max_token_length, 4, "max_token_length", -1));
  std::vector<Llama2cTokenizer::Entry> vocab(vocab_size);
  for (int32_t i = 0; i < vocab_size; ++i) {
    int32_t len = 0;
    SHRINK_RETURN_IF_ERROR(read(&vocab[i].score, 4, "score", i));
    const size_t len_offset = offset;
    SHRINK_RETURN_IF_ERROR(read(&len, 4, "length", i));
    if (len < 0 || len > max_token_length) {
      return Status::Errorf("{}: token {}: length {} at offset {} is outside [0, {}]", path, i, len,
                            len_offset, max_token_length);
    }
    // Checked before allocating: the length comes from the file (up to 2 GB).
    SHRINK_RETURN_IF_ERROR(need(len, "text", i));
    vocab[i].text.assign(data, offset, len);
    offset += len;
  }
  return std::unique_ptr<Tokenizer>(new Llama2cTokenizer(std::move(vocab)));
}

namespace {

// llama.cpp's llama_token_type values (llama-vocab.h).
enum : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6 };

bool IsByteToken(std::string_view text) {
  unsigned int byte = 0;
  char tail = 0;
  return text.size() == 6 && text.substr(0, 3) == "<0x" &&
         std::sscanf(std::string(text.substr(3)).c_str(), "%2x%c", &byte, &tail) == 2 &&
         tail == '>';
}

std::string SpacesToSentencePiece(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ' ') {
      out += "\xe2\x96\x81";  // U+2581 "▁"
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, GgufValue>> Llama2cVocabGgufMetadata(
    const Llama2cTokenizer& tokenizer) {
  GgufArray tokens(GgufValueType::kString);
  GgufArray scores(GgufValueType::kFloat32);
  GgufArray types(GgufValueType::kInt32);
  const std::vector<Llama2cTokenizer::Entry>& entries = tokenizer.entries();
  for (size_t id = 0; id < entries.size(); ++id) {
    const std::string& text = entries[id].text;
    std::string name;
    int32_t type = kNormal;
    if (id == 0) {
      name = "<unk>", type = kUnknown;
    } else if (id == 1) {
      name = "<s>", type = kControl;
    } else if (id == 2) {
      name = "</s>", type = kControl;
    } else if (text.empty()) {
      type = kControl;
    } else if (IsByteToken(text)) {
      name = text, type = kByte;
    } else {
      name = SpacesToSentencePiece(text);
    }
    tokens.Push(GgufValue::String(std::move(name)));
    scores.Push(GgufValue::F32(entries[id].score));
    types.Push(GgufValue::I32(type));
  }
  std::vector<std::pair<std::string, GgufValue>> out;
  out.emplace_back("tokenizer.ggml.model", GgufValue::String("llama"));
  out.emplace_back("tokenizer.ggml.tokens", GgufValue::Array(std::move(tokens)));
  out.emplace_back("tokenizer.ggml.scores", GgufValue::Array(std::move(scores)));
  out.emplace_back("tokenizer.ggml.token_type", GgufValue::Array(std::move(types)));
  out.emplace_back("tokenizer.ggml.bos_token_id", GgufValue::U32(1));
  out.emplace_back("tokenizer.ggml.eos_token_id", GgufValue::U32(2));
  out.emplace_back("tokenizer.ggml.unknown_token_id", GgufValue::U32(0));
  return out;
}

}  // namespace shrink
