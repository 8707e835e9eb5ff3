// Loading a Vocab and its tokenizer from GGUF metadata (tokenizer.ggml.*), with llama.cpp's
// defaults.
#include <variant>

#include "io/gguf.h"
#include "text/bpe_tokenizer.h"
#include "text/spm_tokenizer.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

namespace shrink {
namespace {

constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";

// An optional array key: nullptr when absent; an error when present with another type or fewer
// than `min_count` elements of an accepted element type.
Result<const GgufArray*> OptionalArray(const GgufFile& file, std::string_view key, size_t min_count,
                                       std::initializer_list<GgufValueType> element_types) {
  const GgufValue* value = file.Find(key);
  if (value == nullptr) return static_cast<const GgufArray*>(nullptr);
  const auto* array = std::get_if<GgufArray>(&value->data);
  if (array == nullptr) {
    return Status::Errorf("{}: key {} has type {}, expected an array", file.path(), key,
                          GgufValueTypeName(value->type));
  }
  bool accepted = false;
  for (GgufValueType t : element_types) accepted |= array->element_type() == t;
  if (!accepted) {
    return Status::Errorf("{}: key {} is an array of {}, expected another element type",
                          file.path(), key, GgufValueTypeName(array->element_type()));
  }
  if (array->size() < min_count) {
    return Status::Errorf("{}: key {} has {} elements, expected at least {} (one per token)",
                          file.path(), key, array->size(), min_count);
  }
  return array;
}

// Optional integer / bool keys leave `out` unchanged when absent.
Status ReadOptionalId(const GgufFile& file, std::string_view key, size_t vocab_size, TokenId& out) {
  if (file.Find(key) == nullptr) return Status::Ok();
  SHRINK_ASSIGN_OR_RETURN(const int64_t id, file.GetInt(key));
  // llama.cpp ignores an id past the vocabulary (keeps its default); Finalize drops a default that
  // is out of range.
  if (id >= 0 && static_cast<uint64_t>(id) < vocab_size) out = static_cast<TokenId>(id);
  return Status::Ok();
}

Status ReadOptionalBool(const GgufFile& file, std::string_view key, bool& out) {
  const GgufValue* value = file.Find(key);
  if (value == nullptr) return Status::Ok();
  const auto* b = std::get_if<bool>(&value->data);
  if (b == nullptr) {
    return Status::Errorf("{}: key {} has type {}, expected bool", file.path(), key,
                          GgufValueTypeName(value->type));
  }
  out = *b;
  return Status::Ok();
}

}  // namespace

Result<Vocab> LoadVocabFromGguf(const GgufFile& file) {
  Vocab vocab;
  SHRINK_ASSIGN_OR_RETURN(const std::string model, file.GetString("tokenizer.ggml.model"));
  std::string pre;
  if (file.Find("tokenizer.ggml.pre") != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(pre, file.GetString("tokenizer.ggml.pre"));
  }
  if (model == "gpt2") {
    vocab.model = VocabModel::kBpe;
    auto kind = PreTokenizerFromName(pre);
    if (!kind.ok()) return kind.status().WithContext(file.path() + ": tokenizer.ggml.pre");
    vocab.pre = *kind;
    // llama.cpp's defaults for "gpt2" vocabularies.
    vocab.bos = 11, vocab.eos = 11, vocab.unk = -1;
    vocab.add_bos = false, vocab.add_space_prefix = false;
  } else if (model == "llama") {
    vocab.model = VocabModel::kSpm;
    vocab.bos = 1, vocab.eos = 2, vocab.unk = 0;
    vocab.add_bos = true, vocab.add_space_prefix = true;
  } else {
    return Status::Errorf("{}: tokenizer.ggml.model '{}' is not supported (supported: gpt2, llama)",
                          file.path(), model);
  }
  SHRINK_RETURN_IF_ERROR(
      ReadOptionalBool(file, "tokenizer.ggml.add_space_prefix", vocab.add_space_prefix));

  if (file.Find(kTokensKey) == nullptr) {
    return Status::Errorf("{}: tokenizer with no vocabulary: missing required key {}", file.path(),
                          kTokensKey);
  }
  SHRINK_ASSIGN_OR_RETURN(const GgufArray* tokens,
                          OptionalArray(file, kTokensKey, 0, {GgufValueType::kString}));
  if (tokens->empty()) {
    return Status::Errorf("{}: tokenizer with no vocabulary: {} is empty", file.path(), kTokensKey);
  }
  const size_t n = tokens->size();
  if (n > static_cast<size_t>(INT32_MAX)) {
    return Status::Errorf("{}: {} has {} entries, more than token ids can address", file.path(),
                          kTokensKey, n);
  }
  SHRINK_ASSIGN_OR_RETURN(const GgufArray* scores,
                          OptionalArray(file, "tokenizer.ggml.scores", n,
                                        {GgufValueType::kFloat32, GgufValueType::kInt32}));
  SHRINK_ASSIGN_OR_RETURN(const GgufArray* types, OptionalArray(file, "tokenizer.ggml.token_type",
                                                                n, {GgufValueType::kInt32}));
  vocab.tokens.resize(n);
  for (size_t i = 0; i < n; ++i) {
    Vocab::Token& token = vocab.tokens[i];
    token.text = tokens->StringAt(i);
    if (scores) token.score = static_cast<float>(scores->FloatAt(i));  // f32 or i32
    if (types) token.attr = TokenTypeToAttr(types->IntAt(i));          // i32
  }

  if (vocab.model == VocabModel::kBpe) {
    if (file.Find("tokenizer.ggml.merges") == nullptr) {
      return Status::Errorf("{}: missing required key tokenizer.ggml.merges (BPE vocabulary)",
                            file.path());
    }
    SHRINK_ASSIGN_OR_RETURN(const GgufArray* merges, OptionalArray(file, "tokenizer.ggml.merges", 0,
                                                                   {GgufValueType::kString}));
    const std::span<const std::string> texts = merges->values<std::string>();
    vocab.merges.assign(texts.begin(), texts.end());
  }

  SHRINK_RETURN_IF_ERROR(ReadOptionalId(file, "tokenizer.ggml.bos_token_id", n, vocab.bos));
  SHRINK_RETURN_IF_ERROR(ReadOptionalId(file, "tokenizer.ggml.eos_token_id", n, vocab.eos));
  SHRINK_RETURN_IF_ERROR(ReadOptionalId(file, "tokenizer.ggml.eot_token_id", n, vocab.eot));
  SHRINK_RETURN_IF_ERROR(ReadOptionalId(file, "tokenizer.ggml.eom_token_id", n, vocab.eom));
  SHRINK_RETURN_IF_ERROR(ReadOptionalId(file, "tokenizer.ggml.unknown_token_id", n, vocab.unk));
  SHRINK_RETURN_IF_ERROR(ReadOptionalBool(file, "tokenizer.ggml.add_bos_token", vocab.add_bos));
  SHRINK_RETURN_IF_ERROR(ReadOptionalBool(file, "tokenizer.ggml.add_eos_token", vocab.add_eos));

  Status finalized = vocab.Finalize();
  if (!finalized.ok()) return finalized.WithContext(file.path());
  return vocab;
}

Result<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const GgufFile& file) {
  SHRINK_ASSIGN_OR_RETURN(Vocab vocab, LoadVocabFromGguf(file));
  if (vocab.model == VocabModel::kSpm) {
    return std::unique_ptr<Tokenizer>(new SpmTokenizer(std::move(vocab)));
  }
  return std::unique_ptr<Tokenizer>(new BpeTokenizer(std::move(vocab)));
}

}  // namespace shrink
