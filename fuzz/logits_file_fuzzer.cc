// Fuzzes the base-logits file reader (LogitsFileReader: `shrink perplexity --kl-divergence`'s
// input) and what is computed from its rows: every chunk of a file that opens is read, and each row
// that ReadChunk accepts is decoded and compared with a model's logits (CompareWithBase), as the
// KL-divergence path does.
#include <vector>

#include "eval/logits_file.h"
#include "eval/token_scores.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  fuzz::InputFile input(data, size);
  auto reader = LogitsFileReader::Open(input.path());
  if (!reader.ok()) {
    fuzz::CheckError(reader.status(), input.path());
    return 0;
  }
  const LogitsFileHeader& h = reader->header();
  SHRINK_CHECK(h.ExpectedFileBytes() == std::optional<uint64_t>(size));
  SHRINK_CHECK(h.tokens.size() == static_cast<size_t>(h.n_chunk) * h.n_ctx);
  const size_t words = LogProbRowWords(h.n_vocab);
  const int32_t scored = ScoredPerChunk(h.n_ctx);
  if (scored == 0) {
    // n_ctx 2: chunks with no scored rows; n_vocab is then not bounded by the file's size, and there
    // is nothing to compare (the CLI also checks n_vocab against the model's before allocating).
    fuzz::CountOutcome("opened, no scored rows");
    return 0;
  }
  std::vector<uint16_t> rows(static_cast<size_t>(scored) * words);
  // A model's logits for the comparison: a slope, so the arg max is unique.
  std::vector<float> logits(h.n_vocab);
  for (int32_t i = 0; i < h.n_vocab; ++i) logits[i] = 0.01f * i;
  for (int32_t chunk = 0; chunk < h.n_chunk; ++chunk) {
    const Status read = reader->ReadChunk(chunk, rows);
    if (!read.ok()) {
      fuzz::CheckError(read, input.path());
      return 0;
    }
    for (int32_t r = 0; r < scored; ++r) {
      const std::span<const uint16_t> row(rows.data() + r * words, words);
      // Row r scores the token after position n_ctx/2 + r of the chunk.
      const TokenId target = h.tokens[static_cast<size_t>(chunk) * h.n_ctx + h.n_ctx / 2 + r + 1];
      const TokenComparison c = CompareWithBase(logits, row, target);
      volatile double sink = c.kld + c.nll + c.nll_base + DecodedLogProb(row, h.n_vocab - 1);
      (void)sink;
    }
  }
  fuzz::CountOutcome("opened, every row compared");
  return 0;
}
