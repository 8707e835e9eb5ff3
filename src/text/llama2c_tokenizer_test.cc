// llama2.c tokenizer (stories260K's tok512.bin) against tests/oracles/llama2c_tokenize_oracle.py,
// an independent Python transcription of run.c's encode.
#include "text/llama2c_tokenizer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "testing/heap_counter.h"
#include "testing/test_paths.h"

namespace shrink {
namespace {

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string Decode(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  std::string text;
  TokenId prev = -1;
  for (TokenId id : ids) {
    text += tok.TokenToPieceAfter(prev, id, false);
    prev = id;
  }
  return text;
}

TEST(Llama2cTokenizer, MatchesRunCEncodeAndRoundTrips) {
  const auto path = testing::SharedPath("models/stories260K/tok512.bin");
  SHRINK_SKIP_IF_MISSING(path);
  auto tokenizer = LoadLlama2cTokenizer(path.string(), 512);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  const Tokenizer& tok = **tokenizer;
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);

  std::ifstream fixture(testing::SourcePath("tests/oracles/data/stories260k_tokenizer_ids.txt"));
  ASSERT_TRUE(fixture.good());
  int cases = 0;
  for (std::string line; std::getline(fixture, line);) {
    std::istringstream fields(line);
    std::string hex;
    fields >> hex;
    std::vector<TokenId> expected;
    for (TokenId id; fields >> id;) expected.push_back(id);
    const std::string text = FromHex(hex);
    const std::vector<TokenId> ids = tok.Encode(text, true, false);
    EXPECT_EQ(ids, expected) << text;
    // run.c's decode drops the leading space of the piece after BOS, which is exactly the dummy
    // prefix's space; byte tokens give raw bytes. So decoding returns the text.
    EXPECT_EQ(Decode(tok, ids), text) << text;
    ++cases;
  }
  EXPECT_EQ(cases, 6);
  EXPECT_EQ(Decode(tok, tok.Encode("Once upon a time", true, false)), "Once upon a time");
  EXPECT_TRUE(tok.Encode("", false, false).empty());
}

TEST(Llama2cTokenizer, TruncatedFileIsAnError) {
  const auto path = testing::SharedPath("models/stories260K/tok512.bin");
  SHRINK_SKIP_IF_MISSING(path);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto cut = testing::ScratchDir() / "tok_cut.bin";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto tokenizer = LoadLlama2cTokenizer(cut.string(), 512);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("runs past end of file"), std::string::npos)
      << tokenizer.status().message();
}

TEST(Llama2cTokenizer, GgufKeysAsLlamaCppsConverterWritesThem) {
  std::vector<Llama2cTokenizer::Entry> vocab = {{"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}};
  for (int b = 0; b < 256; ++b) vocab.push_back({fmt::format("<0x{:02X}>", b), 0});
  vocab.push_back({" the", -1.5f});
  vocab.push_back({"", -2.0f});
  const Llama2cTokenizer tok(std::move(vocab));
  const auto m = Llama2cVocabGgufMetadata(tok);
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m[0].first, "tokenizer.ggml.model");
  EXPECT_EQ(m[0].second.AsString(), "llama");
  const auto tokens = m[1].second.AsArray().values<std::string>();
  const auto scores = m[2].second.AsArray().values<float>();
  const auto types = m[3].second.AsArray().values<int32_t>();
  ASSERT_EQ(tokens.size(), 261u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[3 + 0x0a], "<0x0A>");
  EXPECT_EQ(tokens[259], "\u2581the");  // the export's space back to SentencePiece's ▁
  EXPECT_EQ(tokens[260], "");
  EXPECT_EQ(scores[259], -1.5);
  // llama_token_type: 2 unknown, 3 control, 6 byte, 1 normal (an empty text is control).
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(types[2], 3);
  EXPECT_EQ(types[3], 6);
  EXPECT_EQ(types[258], 6);
  EXPECT_EQ(types[259], 1);
  EXPECT_EQ(types[260], 3);
  EXPECT_EQ(m[4].first, "tokenizer.ggml.bos_token_id");
  EXPECT_EQ(m[4].second.AsUint(), 1u);
}

TEST(Llama2cTokenizer, TokenLengthPastTheEndIsAnErrorBeforeAllocating) {
  // Found by fuzz/llama2c_tokenizer_fuzzer.cc (fuzz/regressions/llama2c_tokenizer/): a 17-byte
  // file whose first token claims 1.7 GB of text made the reader allocate and zero that much before
  // noticing that the file ends.
  const int32_t max_token_length = 0x7fffffff, len = 0x6a3e4530;
  const float score = 0.0f;
  std::string bytes(12, '\0');
  std::memcpy(bytes.data(), &max_token_length, 4);
  std::memcpy(bytes.data() + 4, &score, 4);
  std::memcpy(bytes.data() + 8, &len, 4);
  bytes += "jj*\xff\x00";
  const auto path = testing::ScratchDir() / "tok_huge_len.bin";
  std::ofstream(path, std::ios::binary) << bytes;

  testing::ResetHeapPeak();
  const int64_t before = testing::HeapBytesInUse();
  auto tokenizer = LoadLlama2cTokenizer(path.string(), 512);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("token 0: text at offset 12 runs past end of file"),
            std::string::npos)
      << tokenizer.status().message();
  EXPECT_LT(testing::HeapPeakBytes() - before, int64_t{1} << 20);
}

}  // namespace
}  // namespace shrink
