// Fuzzes the GGUF tokenizers (LoadGgufTokenizer: byte-level BPE and SentencePiece-style) on
// arbitrary text. The vocabularies are real ones, loaded once: llama.cpp's vocab-only test files
// (gpt-2 and starcoder BPE, llama SPM) from SHRINK_FUZZ_VOCAB_DIR (environment, else the path
// compiled in: ../shared/data/tokenizer-tests).
//
// Input: byte 0 picks the vocabulary, the rest is the text. Each text is encoded with and without
// parse_special and add_special; every id must lie in the vocabulary and decode. For the byte-level
// BPE vocabularies, decoding the ids of well-formed UTF-8 encoded without special parsing must give
// the text back.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "eval/text_file.h"
#include "fuzz_file.h"
#include "io/gguf.h"
#include "text/tokenizer.h"

namespace shrink {
namespace {

struct LoadedVocab {
  std::string name;
  bool byte_level = false;
  std::unique_ptr<Tokenizer> tokenizer;
};

std::vector<LoadedVocab>& Vocabs() {
  static std::vector<LoadedVocab>* vocabs = [] {
    const char* env = std::getenv("SHRINK_FUZZ_VOCAB_DIR");
    const std::string dir = env != nullptr ? env : SHRINK_FUZZ_VOCAB_DIR;
    auto* out = new std::vector<LoadedVocab>;
    for (auto [name, byte_level] :
         {std::pair{"gpt-2", true}, std::pair{"starcoder", true}, std::pair{"llama-spm", false}}) {
      const std::string path = dir + "/ggml-vocab-" + name + ".gguf";
      auto file = GgufFile::Open(path);
      auto tok =
          file.ok() ? LoadGgufTokenizer(*file) : Result<std::unique_ptr<Tokenizer>>(file.status());
      if (!tok.ok()) {
        std::fprintf(stderr, "gguf_tokenizer_fuzzer: %s (set SHRINK_FUZZ_VOCAB_DIR)\n",
                     tok.status().message().c_str());
        std::exit(2);
      }
      out->push_back({name, byte_level, std::move(tok).value()});
    }
    return out;
  }();
  return *vocabs;
}

}  // namespace
}  // namespace shrink

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  shrink::Vocabs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  if (size == 0) return 0;
  const LoadedVocab& vocab = Vocabs()[data[0] % Vocabs().size()];
  const Tokenizer& tok = *vocab.tokenizer;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  for (bool parse_special : {false, true}) {
    for (bool add_special : {false, true}) {
      const std::vector<TokenId> ids = tok.Encode(text, add_special, parse_special);
      std::string decoded;
      for (TokenId id : ids) {
        SHRINK_CHECK(id >= 0 && id < tok.vocab_size());
        decoded += tok.TokenToPiece(id, /*render_special=*/parse_special);
      }
      if (vocab.byte_level && !parse_special && !add_special && !FindInvalidUtf8(text)) {
        if (decoded != text) {
          std::fprintf(stderr, "%s: %zu ids decode to %zu bytes, not the %zu-byte text\n",
                       vocab.name.c_str(), ids.size(), decoded.size(), text.size());
        }
        SHRINK_CHECK(decoded == text);
      }
    }
  }
  return 0;
}
