#include "model/model.h"

#include <cstdio>
#include <cstring>

#include "io/gguf.h"
#include "model/loaders.h"

namespace shrink {
namespace {

enum class Container { kGguf, kLlama2c };

// GGUF when the file starts with the magic "GGUF", and for files too short to hold it (1-3 bytes
// that begin "G", "GG", "GGU" are a truncated GGUF header, others are no model at all); anything
// else is taken for a llama2.c checkpoint, which has no magic: it starts with the dim field. An
// unreadable file is reported by the llama2.c loader.
Result<Container> DetectContainer(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Container::kLlama2c;
  char magic[4] = {};
  const size_t n = std::fread(magic, 1, 4, f);
  std::fclose(f);
  if (n == 4) return std::memcmp(magic, "GGUF", 4) == 0 ? Container::kGguf : Container::kLlama2c;
  if (n > 0 && std::memcmp(magic, "GGUF", n) == 0) {
    return Status::Errorf(
        "{}: truncated GGUF header: the file is {} bytes and ends inside the 4-byte magic \"GGUF\" "
        "at offset 0",
        path, n);
  }
  return Status::Errorf(
      "{}: the file is {} bytes, too short for a model: a GGUF file starts with the 4-byte magic "
      "\"GGUF\" at offset 0 (and a llama2.c checkpoint with a 28-byte header)",
      path, n);
}

}  // namespace

Result<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& options) {
  SHRINK_ASSIGN_OR_RETURN(const Container container, DetectContainer(path));
  if (container == Container::kGguf) {
    SHRINK_ASSIGN_OR_RETURN(GgufFile opened, GgufFile::Open(path));
    // The tokenizer reads the file's keys first: ReadGgufModel moves them into the model.
    SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadGgufTokenizer(opened));
    SHRINK_ASSIGN_OR_RETURN(auto model,
                            ReadGgufModel(std::make_shared<GgufFile>(std::move(opened))));
    model->tokenizer = std::move(tokenizer);
    if (model->tokenizer->vocab_size() != model->config.vocab_size) {
      return Status::Errorf("{}: tokenizer has {} tokens but token_embd.weight has {} rows", path,
                            model->tokenizer->vocab_size(), model->config.vocab_size);
    }
    return model;
  }
  SHRINK_ASSIGN_OR_RETURN(auto model, LoadLlama2cTransformer(path));
  if (options.tokenizer_path.empty()) {
    return Status::Errorf(
        "{}: a llama2.c checkpoint needs its tokenizer file (e.g. tok512.bin; "
        "--tokenizer on the command line)",
        path);
  }
  SHRINK_ASSIGN_OR_RETURN(model->tokenizer,
                          LoadLlama2cTokenizer(options.tokenizer_path, model->config.vocab_size));
  return model;
}

}  // namespace shrink
