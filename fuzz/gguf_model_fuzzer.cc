// Fuzzes loading a GGUF model (LoadModel: container, config from the architecture's keys, weights
// checked against the tensor table, tokenizer from tokenizer.ggml.*), then runs a few forward steps
// of every small model that loads (model_smoke.h). Inputs without the GGUF magic are skipped: the
// llama2.c path has its own harness (llama2c_checkpoint_fuzzer.cc).
#include <cstring>

#include "fuzz_file.h"
#include "model/model.h"
#include "model_smoke.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {
    fuzz::CountOutcome("skipped: no GGUF magic");
    return 0;
  }
  fuzz::InputFile input(data, size);
  auto model = LoadModel(input.path());
  if (!model.ok()) {
    fuzz::CheckError(model.status(), input.path());
    return 0;
  }
  SHRINK_CHECK((*model)->tokenizer != nullptr);
  SHRINK_CHECK((*model)->tokenizer->vocab_size() == (*model)->config.vocab_size);
  fuzz::CountOutcome(fuzz::EvaluateSmallModel(**model) ? "loaded and evaluated"
                                                       : "loaded, too large to evaluate");
  return 0;
}
