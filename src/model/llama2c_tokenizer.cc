#include "model/llama2c_tokenizer.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

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
  if (!text.empty()) {
    const TokenId dummy_prefix = Find(" ");
    if (dummy_prefix >= 0) tokens.push_back(dummy_prefix);
  }
  // One UTF-8 character at a time: a lead byte and up to three continuation bytes.
  size_t i = 0;
  while (i < text.size()) {
    size_t len = 1;
    while (i + len < text.size() && len < 4 &&
           (static_cast<uint8_t>(text[i + len]) & 0xC0) == 0x80) {
      ++len;
    }
    const std::string_view ch = text.substr(i, len);
    const TokenId id = Find(ch);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (char byte : ch) tokens.push_back(static_cast<uint8_t>(byte) + 3);
    }
    i += len;
  }
  // Merge the best-scoring adjacent pair until none forms a token.
  std::string merged;
  while (true) {
    float best_score = -1e10f;
    TokenId best_id = -1;
    size_t best_index = 0;
    for (size_t k = 0; k + 1 < tokens.size(); ++k) {
      merged = vocab_[tokens[k]].text;
      merged += vocab_[tokens[k + 1]].text;
      const TokenId id = Find(merged);
      if (id >= 0 && vocab_[id].score > best_score) {
        best_score = vocab_[id].score;
        best_id = id;
        best_index = k;
      }
    }
    if (best_id < 0) break;
    tokens[best_index] = best_id;
    tokens.erase(tokens.begin() + best_index + 1);
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
  auto read = [&](void* dst, size_t n, std::string_view what, int32_t index) -> Status {
    if (data.size() - offset < n) {
      return Status::Errorf("{}: token {}: {} at offset {} runs past end of file (size {})", path,
                            index, what, offset, data.size());
    }
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
    vocab[i].text.resize(len);
    SHRINK_RETURN_IF_ERROR(read(vocab[i].text.data(), len, "text", i));
  }
  return std::unique_ptr<Tokenizer>(new Llama2cTokenizer(std::move(vocab)));
}

}  // namespace shrink
