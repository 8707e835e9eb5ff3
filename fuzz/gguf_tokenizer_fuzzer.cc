// Fuzzes the GGUF tokenizers (LoadGgufTokenizer: byte-level BPE and SentencePiece-style) on
// arbitrary text. The vocabularies are real ones, loaded once: llama.cpp's vocab-only test files
// (gpt-2 and starcoder BPE, llama SPM) from SHRINK_FUZZ_VOCAB_DIR (environment, else the path
// compiled in: ../shared/data/tokenizer-tests).
//
// Input: byte 0 picks the vocabulary, the rest is the text. Each text is encoded with and without
// parse_special and add_special; every id must lie in the vocabulary and decode. For the byte-level
// BPE vocabularies, decoding the ids of well-formed UTF-8 encoded without special parsing must give
// the text back, when every byte of the text has its byte token: starcoder's vocabulary lacks 14 of
// them (0xc0, 0xc1, 0xf1, 0xf5..0xff), and a byte without a token is dropped, as llama.cpp does.
#include <array>
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
  std::array<bool, 256> has_byte_token{};  // some token decodes to exactly this one byte
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
      LoadedVocab& v = out->back();
      for (TokenId id = 0; id < v.tokenizer->vocab_size(); ++id) {
        const std::string piece = v.tokenizer->TokenToPiece(id, /*render_special=*/false);
        if (piece.size() == 1) v.has_byte_token[static_cast<uint8_t>(piece[0])] = true;
      }
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
  bool round_trip = vocab.byte_level && !FindInvalidUtf8(text);
  for (char c : text) round_trip = round_trip && vocab.has_byte_token[static_cast<uint8_t>(c)];
  for (bool parse_special : {false, true}) {
    for (bool add_special : {false, true}) {
      const std::vector<TokenId> ids = tok.Encode(text, add_special, parse_special);
      std::string decoded;
      for (TokenId id : ids) {
        SHRINK_CHECK(id >= 0 && id < tok.vocab_size());
        decoded += tok.TokenToPiece(id, /*render_special=*/parse_special);
      }
      if (round_trip && !parse_special && !add_special) {
        if (decoded != text) {
          std::fprintf(stderr, "%s: %zu ids decode to %zu bytes, not the %zu-byte text\n",
                       vocab.name.c_str(), ids.size(), decoded.size(), text.size());
        }
        SHRINK_CHECK(decoded == text);
      }
    }
  }
  fuzz::CountOutcome("encoded with " + vocab.name + (round_trip ? ", round trip checked" : ""));
  return 0;
}
