// llama.cpp's tokenizer test vectors (tests/test-tokenizer-0.cpp protocol): each string of the .inp
// file, tokenized with add_special = false and parse_special = false, must give exactly the ids on
// the matching line of the .out file.
#include <gtest/gtest.h>

#include <cstdlib>
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

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Vector {
  std::string text;
  std::vector<TokenId> ids;
};

// As test-tokenizer-0.cpp: inputs are separated by "\n__ggml_vocab_test__\n" (so each input loses
// the newline before the separator); expected outputs are one line each, ids separated by spaces.
std::vector<Vector> ReadVectors(const fs::path& inp, const fs::path& out) {
  const std::string raw = ReadAll(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::vector<TokenId>> outputs;
  std::ifstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ids(line);
    std::vector<TokenId>& row = outputs.emplace_back();
    for (TokenId id; ids >> id;) row.push_back(id);
  }
  std::vector<Vector> vectors;
  if (inputs.size() != outputs.size()) return vectors;
  for (size_t i = 0; i < inputs.size(); ++i) vectors.push_back({inputs[i], outputs[i]});
  return vectors;
}

// The vocabulary file: shared/data/tokenizer-tests first. Where that copy does not open as GGUF
// (the shared copies were once stored through a text filter that replaced non-UTF-8 bytes with
// U+FFFD), the intact copy that scripts/fetch-test-data extracts from llama.cpp's sources is used:
// $SHRINK_CACHE/test-data/tokenizer-tests (default ~/.cache/shrink/...), or $SHRINK_LLAMA_CPP_MODELS.
struct VocabSource {
  fs::path path;
  std::string problems;
};

VocabSource FindVocab(const std::string& name) {
  std::vector<fs::path> candidates = {testing::SharedPath("data/tokenizer-tests/" + name)};
  if (const char* dir = std::getenv("SHRINK_LLAMA_CPP_MODELS"))
    candidates.push_back(fs::path(dir) / name);
  candidates.push_back(testing::CacheDir() / "test-data/tokenizer-tests" / name);
  VocabSource source;
  for (const fs::path& candidate : candidates) {
    if (!fs::exists(candidate)) continue;
    auto file = GgufFile::Open(candidate.string());
    if (file.ok()) {
      source.path = candidate;
      return source;
    }
    source.problems += "\n  " + file.status().message();
  }
  return source;
}

// `space_prefix`: the SentencePiece vocabulary prefixes the text with a space ("▁"), which its
// pieces render back.
void CheckVectors(const std::string& name, bool space_prefix) {
  const fs::path inp = testing::SharedPath("data/tokenizer-tests/" + name + ".inp");
  const fs::path out = testing::SharedPath("data/tokenizer-tests/" + name + ".out");
  if (!fs::exists(inp) || !fs::exists(out)) GTEST_SKIP() << "no test vectors at " << inp;
  const VocabSource source = FindVocab(name);
  ASSERT_FALSE(source.path.empty())
      << "no readable copy of " << name << source.problems
      << "\n(the vectors need an intact vocabulary file: run scripts/fetch-test-data)";
  auto file = GgufFile::Open(source.path.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tokenizer = LoadGgufTokenizer(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();

  const std::vector<Vector> vectors = ReadVectors(inp, out);
  ASSERT_FALSE(vectors.empty()) << "could not read " << inp << " / " << out;
  int passed = 0;
  for (const Vector& v : vectors) {
    const std::vector<TokenId> ids = (*tokenizer)->Encode(v.text, false, false);
    EXPECT_EQ(ids, v.ids) << "input: '" << v.text << "'";
    passed += ids == v.ids;
    // Pieces concatenate back to the input (byte-level BPE and byte fallback are lossless).
    std::string decoded;
    for (TokenId id : ids) decoded += (*tokenizer)->TokenToPiece(id, false);
    EXPECT_EQ(decoded, (space_prefix && !v.text.empty() ? " " : "") + v.text);
  }
  std::printf("%s (%s): %d / %zu vectors match\n", name.c_str(), source.path.c_str(), passed,
              vectors.size());
}

TEST(TokenizerVectors, Gpt2) { CheckVectors("ggml-vocab-gpt-2.gguf", false); }
TEST(TokenizerVectors, Starcoder) { CheckVectors("ggml-vocab-starcoder.gguf", false); }
TEST(TokenizerVectors, LlamaSpm) { CheckVectors("ggml-vocab-llama-spm.gguf", true); }

}  // namespace
}  // namespace shrink
