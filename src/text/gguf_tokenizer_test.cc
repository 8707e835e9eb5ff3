// GGUF tokenizers against llama.cpp on a real vocabulary (SmolLM2, fixtures made by
// tests/oracles/smollm2_tokenize_oracle.py with llama.cpp's llama-tokenize), and loader errors.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "testing/test_paths.h"
#include "text/tokenizer.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

fs::path SmolLm2Path() { return testing::CachedModelPath("smollm2-135m-instruct-q4_1.gguf"); }

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(GgufTokenizer, SmolLm2MatchesLlamaCpp) {
  const fs::path model = SmolLm2Path();
  SHRINK_SKIP_IF_MISSING(model);
  auto file = GgufFile::Open(model.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tokenizer = LoadGgufTokenizer(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  const Tokenizer& tok = **tokenizer;
  EXPECT_EQ(tok.vocab_size(), 49152);
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_FALSE(tok.adds_bos());           // tokenizer.ggml.add_bos_token = false
  EXPECT_TRUE(tok.IsEndOfGeneration(2));  // <|im_end|>
  EXPECT_TRUE(tok.IsEndOfGeneration(0));  // <|endoftext|>
  EXPECT_FALSE(tok.IsEndOfGeneration(1));

  std::ifstream fixture(testing::SourcePath("tests/oracles/data/smollm2_tokenizer_ids.txt"));
  ASSERT_TRUE(fixture.good());
  int cases = 0;
  for (std::string line; std::getline(fixture, line);) {
    std::istringstream fields(line);
    int parse_special = 0, add_special = 0;
    std::string hex;
    fields >> parse_special >> add_special >> hex;
    std::vector<TokenId> expected;
    for (TokenId id; fields >> id;) expected.push_back(id);
    const std::string text = FromHex(hex);
    EXPECT_EQ(tok.Encode(text, add_special != 0, parse_special != 0), expected) << text;
    ++cases;
  }
  EXPECT_GE(cases, 9);

  // The chat-turn string from the issue, spelled out: <|im_start|> user \n Hello <|im_end|> \n.
  EXPECT_EQ(tok.Encode("<|im_start|>user\nHello<|im_end|>\n", false, true),
            (std::vector<TokenId>{1, 4093, 198, 19556, 2, 198}));
  // Without parse_special the control tokens are plain text: no id 1 or 2 appears.
  for (TokenId id : tok.Encode("<|im_start|>user\nHello<|im_end|>\n", false, false)) {
    EXPECT_NE(id, 1);
    EXPECT_NE(id, 2);
  }
  // Pieces: special tokens render only on request; byte-level pieces decode to raw bytes.
  EXPECT_EQ(tok.TokenToPiece(1, true), "<|im_start|>");
  EXPECT_EQ(tok.TokenToPiece(1, false), "");
  EXPECT_EQ(tok.TokenToPiece(198, false), "\n");
  std::string round_trip;
  const std::string text = "Ünïcödé 日本語 🦙, it's 12345!";
  for (TokenId id : tok.Encode(text, false, false)) round_trip += tok.TokenToPiece(id, false);
  EXPECT_EQ(round_trip, text);
}

// Little GGUF writer for metadata-only files (the layout in io/gguf.h).
class MiniGguf {
 public:
  void String(const std::string& key, const std::string& value) {
    Key(key, 8);
    Str(value);
    ++count_;
  }
  void StringArray(const std::string& key, const std::vector<std::string>& values) {
    Key(key, 9);
    U32(8);
    U64(values.size());
    for (const std::string& v : values) Str(v);
    ++count_;
  }
  std::string Bytes() const {
    std::string out = "GGUF";
    auto put = [&](uint64_t v, int n) { out.append(reinterpret_cast<const char*>(&v), n); };
    put(3, 4);
    put(0, 8);  // tensors
    put(count_, 8);
    return out + body_;
  }

 private:
  void U32(uint32_t v) { body_.append(reinterpret_cast<const char*>(&v), 4); }
  void U64(uint64_t v) { body_.append(reinterpret_cast<const char*>(&v), 8); }
  void Str(const std::string& s) {
    U64(s.size());
    body_ += s;
  }
  void Key(const std::string& key, uint32_t type) {
    Str(key);
    U32(type);
  }
  std::string body_;
  uint64_t count_ = 0;
};

Status LoadFromBytes(const std::string& bytes) {
  const fs::path path = testing::ScratchDir() / "vocab.gguf";
  std::ofstream(path, std::ios::binary) << bytes;
  auto file = GgufFile::Open(path.string());
  if (!file.ok()) return file.status();
  auto tokenizer = LoadGgufTokenizer(*file);
  return tokenizer.ok() ? Status::Ok() : tokenizer.status();
}

TEST(GgufTokenizer, EmptyVocabularyIsAClearError) {
  MiniGguf gguf;
  gguf.String("general.architecture", "llama");
  gguf.String("tokenizer.ggml.model", "gpt2");
  gguf.StringArray("tokenizer.ggml.tokens", {});
  gguf.StringArray("tokenizer.ggml.merges", {});
  const Status status = LoadFromBytes(gguf.Bytes());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("tokenizer with no vocabulary"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("tokenizer.ggml.tokens"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("vocab.gguf"), std::string::npos) << status.message();
}

TEST(GgufTokenizer, MissingTokensKeyIsAClearError) {
  MiniGguf gguf;
  gguf.String("tokenizer.ggml.model", "llama");
  const Status status = LoadFromBytes(gguf.Bytes());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("tokenizer with no vocabulary"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("missing required key tokenizer.ggml.tokens"), std::string::npos)
      << status.message();
}

TEST(GgufTokenizer, UnknownModelAndPreTokenizerAreNamed) {
  MiniGguf a;
  a.String("tokenizer.ggml.model", "t5");
  a.StringArray("tokenizer.ggml.tokens", {"a"});
  Status status = LoadFromBytes(a.Bytes());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("'t5'"), std::string::npos) << status.message();

  MiniGguf b;
  b.String("tokenizer.ggml.model", "gpt2");
  b.String("tokenizer.ggml.pre", "qwen2");
  b.StringArray("tokenizer.ggml.tokens", {"a"});
  b.StringArray("tokenizer.ggml.merges", {});
  status = LoadFromBytes(b.Bytes());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("'qwen2'"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace shrink
