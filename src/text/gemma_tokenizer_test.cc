// Gemma-3's SentencePiece-style vocabulary (262,144 pieces, add_space_prefix = false, byte
// fallback, 6,414 control/user-defined tokens) against llama.cpp, on the cached Gemma-3-270M GGUF.
//
// Golden ids come from llama.cpp's llama-tokenize (the vendored llama.cpp of llama-cpp-python
// 0.3.36, built by bench/peers/llama_cpp.sh), each produced by the command in its comment with
// MODEL = $SHRINK_CACHE/models/gemma-3-270m-q4_k_m.gguf (sha256 a5fd3b62...6818). llama-tokenize
// processes escapes in -p, so '\n' and '\t' there are newline and tab; it parses special tokens
// unless --no-parse-special and adds BOS (the vocabulary asks for it) unless --no-bos.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "testing/test_paths.h"
#include "text/tokenizer.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

fs::path GemmaPath() { return testing::CachedModelPath("gemma-3-270m-q4_k_m.gguf"); }

class GemmaTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(GemmaPath())) return;
    auto file = GgufFile::Open(GemmaPath().string());
    ASSERT_TRUE(file.ok()) << file.status().message();
    auto tokenizer = LoadGgufTokenizer(*file);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
    tok_ = std::move(*tokenizer).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    if (!fs::exists(GemmaPath())) {
      GTEST_SKIP()
          << "skipped: " << GemmaPath()
          << " is absent (the Gemma-3-270M Q4_K_M GGUF, looked up in $SHRINK_CACHE/models, "
             "default ~/.cache/shrink/models)";
    }
    ASSERT_NE(tok_, nullptr);
  }
  static const Tokenizer* tok_;
};

const Tokenizer* GemmaTokenizer::tok_ = nullptr;

TEST_F(GemmaTokenizer, SpecialIdsAndEndOfGeneration) {
  const Tokenizer& tok = *tok_;
  EXPECT_EQ(tok.vocab_size(), 262144);
  EXPECT_EQ(tok.bos(), 2);
  EXPECT_EQ(tok.eos(), 1);
  EXPECT_TRUE(tok.adds_bos());
  // llama.cpp's load log ("printing all EOG tokens"): 1 '<eos>', 106 '<end_of_turn>' (EOT, found by
  // its text) and 212 '</s>' (a user-defined token llama.cpp turns into a control token).
  for (TokenId id = 0; id < 300; ++id) {
    EXPECT_EQ(tok.IsEndOfGeneration(id), id == 1 || id == 106 || id == 212) << id;
  }
}

struct Case {
  std::string text;
  bool add_special;
  bool parse_special;
  std::vector<TokenId> ids;
};

TEST_F(GemmaTokenizer, MatchesLlamaTokenize) {
  const std::vector<Case> cases = {
      // llama-tokenize -m MODEL -p 'Hello world' --ids --log-disable --no-parse-special
      {"Hello world", true, false, {2, 9259, 1902}},
      // No space prefix (add_space_prefix = false); two spaces are user-defined token 138.
      // llama-tokenize -m MODEL -p ' Hello  world' --ids --log-disable --no-parse-special
      {" Hello  world", true, false, {2, 26352, 138, 12392}},
      // llama-tokenize -m MODEL -p '   three leading spaces' --ids --log-disable --no-parse-special
      {"   three leading spaces", true, false, {2, 139, 19891, 5830, 9952}},
      // llama-tokenize -m MODEL -p 'multiple    spaces\tand\t\ttabs' --ids --log-disable
      //   --no-parse-special
      {"multiple    spaces\tand\t\ttabs",
       true,
       false,
       {2, 43819, 140, 35220, 255968, 624, 255969, 39218}},
      // llama-tokenize -m MODEL -p 'line one\nline two\n\nline four\n' --ids --log-disable
      //   --no-parse-special
      {"line one\nline two\n\nline four\n",
       true,
       false,
       {2, 1257, 886, 107, 1257, 1156, 108, 1257, 2390, 107}},
      // Digits one by one.
      // llama-tokenize -m MODEL -p 'digits 1234567890 and 3.14159' --ids --log-disable
      //   --no-parse-special
      {"digits 1234567890 and 3.14159",
       true,
       false,
       {2,      67161,  236743, 236770, 236778, 236800, 236812, 236810, 236825, 236832, 236828,
        236819, 236771, 532,    236743, 236800, 236761, 236770, 236812, 236770, 236810, 236819}},
      // llama-tokenize -m MODEL -p 'Ünïcödé 日本語 emoji 😀' --ids --log-disable --no-parse-special
      {"Ünïcödé 日本語 emoji 😀",
       true,
       false,
       {2, 238194, 236749, 238527, 236755, 55515, 236859, 33375, 238582, 64334, 163543}},
      // Byte fallback: neither 🦙 (F0 9F A6 99) nor 丌 (E4 B8 8C) is a piece; <0xXX> = 238 + XX.
      // llama-tokenize -m MODEL -p 'llama 🦙 and 丌' --ids --log-disable --no-parse-special
      {"llama 🦙 and 丌",
       true,
       false,
       {2, 212922, 236743, 478, 397, 404, 391, 532, 236743, 466, 422, 378}},
      // llama-tokenize -m MODEL -p '<start_of_turn>user\nHi<end_of_turn>' --ids --log-disable
      {"<start_of_turn>user\nHi<end_of_turn>", true, true, {2, 105, 2364, 107, 10979, 106}},
      // The same without parse_special: the control texts are plain text; "\n" (user-defined) is
      // still its own token.
      // llama-tokenize -m MODEL -p '<start_of_turn>user\nHi<end_of_turn>' --ids --log-disable
      //   --no-parse-special
      {"<start_of_turn>user\nHi<end_of_turn>",
       true,
       false,
       {2, 236820, 3041, 236779, 1340, 236779, 887, 236813, 2364, 107, 10979, 236820, 643, 236779,
        1340, 236779, 887, 236813}},
      // A Gemma chat prompt as the chat template renders it.
      // llama-tokenize -m MODEL -p '<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n'
      //   --ids --log-disable --no-bos
      {"<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
       false,
       true,
       {105, 2364, 107, 10979, 106, 107, 105, 4368, 107}},
      // User-defined <table> splits the text even without parse_special; </s> (made control) and
      // <unk> (control) only with it.
      // llama-tokenize -m MODEL -p 'a <table> and </s> and <unk>' --ids --log-disable
      //   --no-parse-special
      {"a <table> and </s> and <unk>",
       true,
       false,
       {2, 236746, 236743, 168, 532, 1454, 236751, 236813, 532, 655, 4984, 236813}},
      // llama-tokenize -m MODEL -p 'a <table> and </s> and <unk>' --ids --log-disable
      {"a <table> and </s> and <unk>",
       true,
       true,
       {2, 236746, 236743, 168, 532, 236743, 212, 532, 236743, 3}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(tok_->Encode(c.text, c.add_special, c.parse_special), c.ids)
        << "text: '" << c.text << "' add_special " << c.add_special << " parse_special "
        << c.parse_special;
  }
  // An empty text is BOS alone (llama-tokenize -m MODEL -f EMPTY_FILE --ids --log-disable: [2]).
  EXPECT_EQ(tok_->Encode("", true, true), std::vector<TokenId>{2});
  EXPECT_TRUE(tok_->Encode("", false, true).empty());
}

TEST_F(GemmaTokenizer, TokenToPieceAsLlamaCpp) {
  const Tokenizer& tok = *tok_;
  // Pieces printed by llama-tokenize -m MODEL -p 'Hi <start_of_turn>' --log-disable (it renders
  // special tokens): 2 '<bos>', 10979 'Hi', 236743 ' ', 105 '<start_of_turn>'.
  EXPECT_EQ(tok.TokenToPiece(2, true), "<bos>");
  EXPECT_EQ(tok.TokenToPiece(10979, true), "Hi");
  EXPECT_EQ(tok.TokenToPiece(236743, true), " ");
  EXPECT_EQ(tok.TokenToPiece(105, true), "<start_of_turn>");
  EXPECT_EQ(tok.TokenToPiece(1902, false), " world");  // "▁world"
  // Control tokens are empty unless rendered; user-defined ones always render as their text.
  EXPECT_EQ(tok.TokenToPiece(105, false), "");
  EXPECT_EQ(tok.TokenToPiece(212, false), "");  // </s>, made control by llama.cpp
  EXPECT_EQ(tok.TokenToPiece(107, false), "\n");
  EXPECT_EQ(tok.TokenToPiece(138, false), "  ");
  EXPECT_EQ(tok.TokenToPiece(168, false), "<table>");
  // Byte tokens are their byte; decoding the byte-fallback case gives the text back.
  EXPECT_EQ(tok.TokenToPiece(478, false), "\xF0");
  std::string text;
  for (TokenId id : tok.Encode("llama 🦙 and 丌\n  x", false, false)) {
    text += tok.TokenToPiece(id, false);
  }
  EXPECT_EQ(text, "llama 🦙 and 丌\n  x");
}

}  // namespace
}  // namespace shrink
