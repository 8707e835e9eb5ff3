#include "model/model.h"

#include <cstdio>
#include <cstring>

#include "io/gguf.h"
#include "model/loaders.h"

namespace shrink {
namespace {

// True when the file starts with the GGUF magic; false for anything else (llama2.c checkpoints have
// no magic: they start with the dim field). An unreadable file is reported by the loader.
bool HasGgufMagic(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[4] = {};
  const size_t n = std::fread(magic, 1, 4, f);
  std::fclose(f);
  return n == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

Result<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& options) {
  if (HasGgufMagic(path)) {
    SHRINK_ASSIGN_OR_RETURN(GgufFile opened, GgufFile::Open(path));
    auto file = std::make_shared<const GgufFile>(std::move(opened));
    SHRINK_ASSIGN_OR_RETURN(auto model, ReadGgufModel(file));
    SHRINK_ASSIGN_OR_RETURN(model->tokenizer, LoadGgufTokenizer(*file));
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
