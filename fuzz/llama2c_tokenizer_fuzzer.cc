// Fuzzes the llama2.c tokenizer file reader (LoadLlama2cTokenizer) and the tokenizer it builds: a
// file that loads, however odd its vocabulary (empty or duplicate texts, NaN scores, lengths up to
// max_token_length), must encode and decode any text, giving ids inside the vocabulary.
//
// The vocabulary size comes from the model, not the file: each input is read for 512 tokens (as
// stories260K's tok512.bin) and for 259, the smallest the reader accepts (3 specials + 256 bytes).
#include <string_view>

#include "fuzz_file.h"
#include "text/tokenizer.h"

namespace shrink {
namespace {

constexpr std::string_view kTexts[] = {
    "",
    "Once upon a time, there was a little girl named Lily.",
    "  leading spaces and trailing  ",
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xe2\x82\xac \xf0\x9f\x98\x80 <0x41> <s></s>",
    std::string_view("nul \0 byte", 10),
    "\xff\xfe invalid \xc3 UTF-8 \xe2\x82",
};

void Exercise(const Tokenizer& tok) {
  const int32_t vocab = tok.vocab_size();
  for (std::string_view text : kTexts) {
    for (bool add_special : {false, true}) {
      const std::vector<TokenId> ids = tok.Encode(text, add_special, /*parse_special=*/false);
      TokenId prev = -1;
      size_t bytes = 0;
      for (TokenId id : ids) {
        SHRINK_CHECK(id >= 0 && id < vocab);
        bytes += tok.TokenToPieceAfter(prev, id, /*render_special=*/false).size();
        prev = id;
      }
      volatile size_t sink = bytes;
      (void)sink;
    }
  }
  // Every id decodes, and ids outside the vocabulary give an empty piece rather than a crash.
  for (TokenId id = -1; id <= vocab; ++id) {
    volatile size_t sink =
        tok.TokenToPiece(id, true).size() + tok.TokenToPieceAfter(1, id, false).size();
    (void)sink;
  }
}

}  // namespace
}  // namespace shrink

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  fuzz::InputFile input(data, size);
  for (int32_t vocab_size : {512, 259}) {
    auto tok = LoadLlama2cTokenizer(input.path(), vocab_size);
    if (!tok.ok()) {
      fuzz::CheckError(tok.status(), input.path(),
                       vocab_size == 512 ? "512 tokens, " : "259 tokens, ");
      continue;
    }
    SHRINK_CHECK((*tok)->vocab_size() == vocab_size);
    Exercise(**tok);
    fuzz::CountOutcome(vocab_size == 512 ? "512 tokens, loaded and encoded"
                                         : "259 tokens, loaded and encoded");
  }
  return 0;
}
