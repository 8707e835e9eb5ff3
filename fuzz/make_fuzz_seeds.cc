// Writes the synthetic seed inputs committed under fuzz/corpus/ (run by hand when a format or the
// tensor table changes; the output is deterministic):
//
//   make_fuzz_seeds OUT_DIR
//
// Each seed is a small valid file the fuzzers then mutate; real files (stories260K, tok512.bin, the
// tokenizer-test vocabularies) are added at run time by scripts/run-fuzzers. Models take their
// tensor list from Weights::Skeleton (the tensor table), so they match what the loaders expect.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "eval/logits_file.h"
#include "eval/token_scores.h"
#include "formats/types.h"
#include "io/gguf_writer.h"
#include "model/architecture.h"
#include "model/config.h"
#include "model/config_metadata.h"
#include "model/tensor_table.h"
#include "model/weights.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;
using Metadata = std::vector<std::pair<std::string, GgufValue>>;

// A fixed linear congruential sequence in [-scale, scale): seeds must not change between runs.
class Numbers {
 public:
  float Next(float scale) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return scale * (static_cast<float>(state_ >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f);
  }
  uint8_t Byte() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint8_t>(state_ >> 56);
  }

 private:
  uint64_t state_ = 0x5eed;
};

void Check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "make_fuzz_seeds: %s\n", s.message().c_str());
    std::exit(1);
  }
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

GgufValue Strings(const std::vector<std::string>& texts) {
  GgufArray a(GgufValueType::kString);
  for (const std::string& t : texts) a.Push(GgufValue::String(t));
  return GgufValue::Array(std::move(a));
}

// A SentencePiece-style vocabulary: <unk>, <s>, </s>, then word pieces with "▁" for spaces.
void AddSpmVocab(Metadata& m, int32_t vocab_size) {
  std::vector<std::string> tokens = {"<unk>",
                                     "<s>",
                                     "</s>",
                                     "\xe2\x96\x81",
                                     "\xe2\x96\x81O",
                                     "nce",
                                     "up",
                                     "on",
                                     "\xe2\x96\x81"
                                     "a",
                                     "time",
                                     "t",
                                     "i",
                                     "m",
                                     "e",
                                     "n",
                                     "c",
                                     "u",
                                     "p",
                                     "o",
                                     "a"};
  while (static_cast<int32_t>(tokens.size()) < vocab_size) {
    tokens.push_back("w" + std::to_string(tokens.size()));
  }
  tokens.resize(vocab_size);
  GgufArray scores(GgufValueType::kFloat32), types(GgufValueType::kInt32);
  for (int32_t i = 0; i < vocab_size; ++i) {
    scores.Push(GgufValue::F32(-static_cast<float>(i)));
    types.Push(GgufValue::I32(i == 0 ? 2 : i < 3 ? 3 : 1));
  }
  m.push_back({"tokenizer.ggml.model", GgufValue::String("llama")});
  m.push_back({"tokenizer.ggml.tokens", Strings(tokens)});
  m.push_back({"tokenizer.ggml.scores", GgufValue::Array(std::move(scores))});
  m.push_back({"tokenizer.ggml.token_type", GgufValue::Array(std::move(types))});
  m.push_back({"tokenizer.ggml.bos_token_id", GgufValue::U32(1)});
  m.push_back({"tokenizer.ggml.eos_token_id", GgufValue::U32(2)});
}

// A byte-level BPE vocabulary (gpt2 model, gpt-2 pre-tokenizer): the 256 byte symbols as GPT-2
// maps them to printable code points, a few merges, and an <|endoftext|> control token.
void AddBpeVocab(Metadata& m, int32_t vocab_size) {
  std::vector<std::string> tokens;
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  uint32_t extra = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    tokens.push_back(utf8(printable ? b : extra++));
  }
  const std::vector<std::string> merges = {
      "\xc4\xa0 t", "o n", "\xc4\xa0 u", "\xc4\xa0t i", "m e", "\xc4\xa0ti me", "O n"};
  for (const std::string& merge : merges) {
    std::string joined = merge;
    joined.erase(joined.find(' '), 1);
    tokens.push_back(joined);
  }
  tokens.push_back("<|endoftext|>");
  while (static_cast<int32_t>(tokens.size()) < vocab_size) {
    tokens.push_back("w" + std::to_string(tokens.size()));
  }
  tokens.resize(vocab_size);
  GgufArray types(GgufValueType::kInt32);
  for (int32_t i = 0; i < vocab_size; ++i) {
    types.Push(GgufValue::I32(tokens[i] == "<|endoftext|>" ? 3 : 1));
  }
  m.push_back({"tokenizer.ggml.model", GgufValue::String("gpt2")});
  m.push_back({"tokenizer.ggml.pre", GgufValue::String("gpt-2")});
  m.push_back({"tokenizer.ggml.tokens", Strings(tokens)});
  m.push_back({"tokenizer.ggml.token_type", GgufValue::Array(std::move(types))});
  m.push_back({"tokenizer.ggml.merges", Strings(merges)});
}

// Writes a model whose tensors are those Weights::Skeleton lists for `config`: norms F32, matrices
// of `matrix_type` (encoded from small random values with the type's reference encoder). The
// matrices named in `factored` are stored as low-rank factor pairs of rank `rank` (".lr_a" /
// ".lr_b", F32, with the shrink.low_rank.* keys) instead of whole. `config.layers` is used as
// given when it is filled (per-layer widths), else made uniform.
void WriteModel(const fs::path& path, Config config, Metadata metadata, TensorType matrix_type,
                const std::vector<std::string>& factored = {}, int64_t rank = 2) {
  if (config.layers.empty()) config.SetUniformLayers();
  config.tied_embeddings = true;
  const Weights skeleton = Weights::Skeleton(config);
  Numbers numbers;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<GgufTensorToWrite> tensors;
  auto add = [&](const std::string& name, const std::vector<int64_t>& shape, TensorType type,
                 bool norm) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const TypeTraits& traits = Traits(type);
    std::vector<float> values(n);
    for (float& x : values) x = norm ? 1.0f + numbers.Next(0.1f) : numbers.Next(0.5f);
    std::vector<uint8_t> bytes(n / traits.block_elements * traits.block_bytes);
    traits.encode(values.data(), bytes.data(), n);
    tensors.push_back(
        {name, shape, static_cast<uint32_t>(traits.type), {bytes.data(), bytes.size()}});
    storage.push_back(std::move(bytes));
  };
  skeleton.ForEachTensor([&](const TensorView& v) {
    const bool norm = v.shape.size() == 1;
    if (std::find(factored.begin(), factored.end(), v.name) == factored.end()) {
      add(v.name, v.shape, norm ? TensorType::kF32 : matrix_type, norm);
      return;
    }
    for (TensorPart part : {TensorPart::kLowRankA, TensorPart::kLowRankB}) {
      add(TensorName(v.role, v.layer, part), FactorShape(v.shape, part, rank), TensorType::kF32,
          false);
    }
  });
  if (!factored.empty()) {
    metadata.push_back({std::string(kLowRankVersionKey), GgufValue::U32(kLowRankVersion)});
    metadata.push_back({std::string(kLowRankTensorsKey), Strings(factored)});
  }
  fs::create_directories(path.parent_path());
  Check(WriteGguf(path.string(), metadata, tensors));
}

void WriteModels(const fs::path& out) {
  {  // llama: 2 layers, GQA 2:1, F32, SentencePiece vocabulary.
    Config c{.n_layers = 2,
             .d_model = 8,
             .n_heads = 2,
             .n_kv_heads = 1,
             .head_dim = 4,
             .ffn_dim = 12,
             .vocab_size = 24,
             .context_length = 16};
    Metadata m = {{"general.architecture", GgufValue::String("llama")},
                  {"llama.block_count", GgufValue::U32(2)},
                  {"llama.context_length", GgufValue::U32(16)},
                  {"llama.embedding_length", GgufValue::U32(8)},
                  {"llama.feed_forward_length", GgufValue::U32(12)},
                  {"llama.attention.head_count", GgufValue::U32(2)},
                  {"llama.attention.head_count_kv", GgufValue::U32(1)},
                  {"llama.attention.layer_norm_rms_epsilon", GgufValue::F32(1e-5f)},
                  {"llama.rope.freq_base", GgufValue::F32(10000.0f)}};
    AddSpmVocab(m, c.vocab_size);
    ApplyArchitecture(**FindArchitecture("llama"), c);
    WriteModel(out / "llama_f32_spm.gguf", c, m, TensorType::kF32);
    // The same model with two linears stored as low-rank factor pairs (shrink prune --method svd).
    WriteModel(out / "llama_f32_low_rank.gguf", c, m, TensorType::kF32,
               {"blk.0.ffn_up.weight", "blk.1.attn_q.weight"});
    // deci (llama's graph, per-layer widths as i32 arrays): what width pruning writes.
    Config d = c;
    d.rope_dims = 4;
    ApplyArchitecture(**FindArchitecture("deci"), d);
    d.SetUniformLayers();
    d.layers[1].n_heads = 1;
    d.layers[1].ffn_dim = 4;
    Metadata dm = *ConfigGgufMetadata(d);
    AddSpmVocab(dm, d.vocab_size);
    WriteModel(out / "deci_f32_per_layer.gguf", d, dm, TensorType::kF32);
  }
  {  // gemma3: Q/K norms, post-norms, sliding windows on layer 0, Q8_0 matrices, BPE vocabulary.
    Config c{.n_layers = 2,
             .d_model = 32,
             .n_heads = 2,
             .n_kv_heads = 1,
             .head_dim = 16,
             .ffn_dim = 32,
             .vocab_size = 272,
             .context_length = 16};
    Metadata m = {{"general.architecture", GgufValue::String("gemma3")},
                  {"gemma3.block_count", GgufValue::U32(2)},
                  {"gemma3.context_length", GgufValue::U32(16)},
                  {"gemma3.embedding_length", GgufValue::U32(32)},
                  {"gemma3.feed_forward_length", GgufValue::U32(32)},
                  {"gemma3.attention.head_count", GgufValue::U32(2)},
                  {"gemma3.attention.head_count_kv", GgufValue::U32(1)},
                  {"gemma3.attention.key_length", GgufValue::U32(16)},
                  {"gemma3.attention.layer_norm_rms_epsilon", GgufValue::F32(1e-6f)},
                  {"gemma3.attention.sliding_window", GgufValue::U32(4)},
                  {"gemma3.attention.sliding_window_pattern", GgufValue::U32(2)},
                  {"gemma3.rope.freq_base", GgufValue::F32(1e6f)},
                  {"gemma3.rope.scaling.type", GgufValue::String("linear")},
                  {"gemma3.rope.scaling.factor", GgufValue::F32(2.0f)},
                  {"gemma3.final_logit_softcapping", GgufValue::F32(30.0f)}};
    AddBpeVocab(m, c.vocab_size);
    ApplyArchitecture(**FindArchitecture("gemma3"), c);
    WriteModel(out / "gemma3_q8_0_bpe.gguf", c, m, TensorType::kQ8_0);
  }
}

// A container with one value of every metadata type (nested arrays included) and one tensor of
// each of a few formats (bytes are random: the container reader does not decode them).
void WriteContainer(const fs::path& path) {
  GgufArray inner{GgufValueType::kInt16, {GgufValue::I16(-2), GgufValue::I16(3)}};
  GgufArray nested{GgufValueType::kArray, {GgufValue::Array(inner), GgufValue::Array(inner)}};
  const Metadata m = {
      {"general.alignment", GgufValue::U32(64)},
      {"u8", GgufValue::U8(200)},
      {"i8", GgufValue::I8(-100)},
      {"u16", GgufValue::U16(60000)},
      {"i16", GgufValue::I16(-30000)},
      {"u32", GgufValue::U32(4000000000u)},
      {"i32", GgufValue::I32(-2000000000)},
      {"f32", GgufValue::F32(1.5f)},
      {"bool", GgufValue::Bool(true)},
      {"string", GgufValue::String("h\xc3\xa9llo")},
      {"u64", GgufValue::U64(uint64_t{1} << 40)},
      {"i64", GgufValue::I64(-(int64_t{1} << 40))},
      {"f64", GgufValue::F64(-0.25)},
      {"nested", GgufValue::Array(nested)},
      {"empty", GgufValue::Array({GgufValueType::kFloat32, {}})},
  };
  Numbers numbers;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<GgufTensorToWrite> tensors;
  const std::pair<const char*, std::vector<int64_t>> specs[] = {
      {"F32", {3}},    {"F16", {2, 3}}, {"BF16", {4}},     {"Q4_0", {32, 2}},       {"Q8_0", {32}},
      {"Q4_K", {256}}, {"Q6_K", {256}}, {"IQ4_XS", {256}}, {"Q2_K", {256, 1, 1, 2}}};
  for (const auto& [type_name, shape] : specs) {
    const TypeTraits* traits = FindTypeByName(type_name);
    if (traits == nullptr) continue;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint8_t> bytes(n / traits->block_elements * traits->block_bytes);
    for (uint8_t& b : bytes) b = numbers.Byte();
    tensors.push_back({std::string("t.") + type_name,
                       shape,
                       static_cast<uint32_t>(traits->type),
                       {bytes.data(), bytes.size()}});
    storage.push_back(std::move(bytes));
  }
  fs::create_directories(path.parent_path());
  Check(WriteGguf(path.string(), m, tensors));
}

// llama.c checkpoint (llama2c_checkpoint.h's layout) with dim 8, hidden 16, 2 layers, 2 heads,
// 1 kv head, vocab 32 (negative when `separate_classifier`), seq_len 8.
void WriteLlama2c(const fs::path& path, bool separate_classifier) {
  const int32_t dim = 8, hidden = 16, layers = 2, heads = 2, kv_heads = 1, vocab = 32, seq = 8;
  const int32_t hs = dim / heads;
  const int32_t header[7] = {
      dim, hidden, layers, heads, kv_heads, separate_classifier ? -vocab : vocab, seq};
  const int64_t floats = int64_t{vocab} * dim + layers * dim + layers * dim * dim +
                         2 * layers * kv_heads * hs * dim + layers * dim * dim + layers * dim +
                         3 * layers * hidden * dim + dim + seq * hs +
                         (separate_classifier ? int64_t{vocab} * dim : 0);
  std::string bytes(reinterpret_cast<const char*>(header), sizeof(header));
  Numbers numbers;
  for (int64_t i = 0; i < floats; ++i) {
    const float x = numbers.Next(0.5f);
    bytes.append(reinterpret_cast<const char*>(&x), sizeof(x));
  }
  WriteBytes(path, bytes);
}

// A llama2.c tokenizer file of 512 tokens: <unk>, <s>, </s>, the 256 byte tokens, then pieces.
void WriteLlama2cTokenizer(const fs::path& path) {
  std::vector<std::string> texts = {"<unk>", "\n<s>\n", "\n</s>\n"};
  char byte_token[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(byte_token, sizeof(byte_token), "<0x%02X>", b);
    texts.push_back(byte_token);
  }
  const char* pieces[] = {
      " ",  "e",     "t",  "a",  "o",     "n",        " t",           "he", " the",
      "in", " a",    "on", "ce", " O",    "nce",      " Once",        "up", " up",
      "on", " upon", "ti", "me", " time", "\xc3\xa9", " \xe2\x82\xac"};
  for (const char* p : pieces) texts.push_back(p);
  while (texts.size() < 512) texts.push_back("x" + std::to_string(texts.size()));
  int32_t max_len = 0;
  for (const std::string& t : texts) max_len = std::max<int32_t>(max_len, t.size());
  std::string bytes(reinterpret_cast<const char*>(&max_len), 4);
  for (size_t i = 0; i < texts.size(); ++i) {
    const float score = i < 259 ? 0.0f : -static_cast<float>(i - 259);
    const int32_t len = static_cast<int32_t>(texts[i].size());
    bytes.append(reinterpret_cast<const char*>(&score), 4);
    bytes.append(reinterpret_cast<const char*>(&len), 4);
    bytes.append(texts[i]);
  }
  WriteBytes(path, bytes);
}

// A base-logits file of 2 chunks of 8 tokens over a vocabulary of 5 (odd: a padding word per
// row), rows encoded from random logits by the same code perplexity uses.
void WriteLogitsFile(const fs::path& path) {
  LogitsFileHeader h{.n_ctx = 8, .n_vocab = 5, .n_chunk = 2};
  for (int i = 0; i < h.n_ctx * h.n_chunk; ++i) h.tokens.push_back(i % h.n_vocab);
  fs::create_directories(path.parent_path());
  auto writer = LogitsFileWriter::Create(path.string(), h);
  Check(writer.status());
  Numbers numbers;
  const size_t words = LogProbRowWords(h.n_vocab);
  for (int chunk = 0; chunk < h.n_chunk; ++chunk) {
    std::vector<uint16_t> rows(ScoredPerChunk(h.n_ctx) * words);
    for (int r = 0; r < ScoredPerChunk(h.n_ctx); ++r) {
      std::vector<float> logits(h.n_vocab);
      for (float& x : logits) x = numbers.Next(4.0f);
      EncodeLogProbs(logits, 0, std::span(rows).subspan(r * words, words));
    }
    Check(writer->WriteChunk(rows));
  }
  Check(writer->Finish());
}

}  // namespace
}  // namespace shrink

int main(int argc, char** argv) {
  using namespace shrink;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR (e.g. fuzz/corpus)\n");
    return 2;
  }
  const fs::path out = argv[1];
  WriteModels(out / "gguf_model");
  WriteContainer(out / "gguf" / "all_value_types.gguf");
  WriteLlama2c(out / "llama2c_checkpoint" / "tiny_shared.bin", false);
  WriteLlama2c(out / "llama2c_checkpoint" / "tiny_separate.bin", true);
  WriteLlama2cTokenizer(out / "llama2c_tokenizer" / "tok512_synthetic.bin");
  WriteLogitsFile(out / "logits_file" / "vocab5_ctx8_2chunks.logits");
  return 0;
}
