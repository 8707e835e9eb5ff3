// Fuzzes the llama2.c checkpoint reader (Llama2cCheckpoint::Open) and the model loader on top of it
// (LoadLlama2cTransformer), then runs a few forward steps of every small model that loads
// (model_smoke.h; token ids only, as the tokenizer is a separate file with its own harness).
//
// Invariant: every weight span of an opened checkpoint lies inside the mapped file, so nothing a
// reader accepts can send a forward pass past the mapping.
//
// Headers whose size arithmetic overflows 64 bits (fuzz/regressions/llama2c_checkpoint/) once
// crashed the reader; it now computes sizes with checked arithmetic and rejects them, so the harness
// feeds them through like any other input.
#include <cstdint>
#include <cstdio>
#include <span>

#include "fuzz_file.h"
#include "io/llama2c_checkpoint.h"
#include "model/loaders.h"
#include "model_smoke.h"

namespace shrink {
namespace {

void CheckInside(std::span<const float> span, std::span<const uint8_t> file, const char* what) {
  if (span.empty()) return;
  const auto begin = reinterpret_cast<uintptr_t>(span.data());
  const auto file_begin = reinterpret_cast<uintptr_t>(file.data());
  const bool inside = begin >= file_begin && span.size_bytes() <= file.size() &&
                      begin - file_begin <= file.size() - span.size_bytes();
  if (!inside) {
    std::fprintf(stderr, "%s: %zu floats at %#zx run outside the %zu-byte file at %#zx\n", what,
                 span.size(), static_cast<size_t>(begin), file.size(),
                 static_cast<size_t>(file_begin));
  }
  SHRINK_CHECK(inside);
}

}  // namespace
}  // namespace shrink

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  fuzz::InputFile input(data, size);
  auto ckpt = Llama2cCheckpoint::Open(input.path());
  if (!ckpt.ok()) {
    fuzz::CheckError(ckpt.status(), input.path());
    return 0;
  }
  const std::span<const uint8_t> file = ckpt->file->bytes();
  const std::pair<const char*, std::span<const float>> spans[] = {
      {"token_embedding", ckpt->token_embedding},
      {"rms_att", ckpt->rms_att},
      {"wq", ckpt->wq},
      {"wk", ckpt->wk},
      {"wv", ckpt->wv},
      {"wo", ckpt->wo},
      {"rms_ffn", ckpt->rms_ffn},
      {"w1", ckpt->w1},
      {"w2", ckpt->w2},
      {"w3", ckpt->w3},
      {"rms_final", ckpt->rms_final},
      {"wcls", ckpt->wcls}};
  for (const auto& [name, span] : spans) CheckInside(span, file, name);

  auto model = LoadLlama2cTransformer(input.path());
  if (!model.ok()) {
    fuzz::CheckError(model.status(), input.path());
    return 0;
  }
  fuzz::CountOutcome(fuzz::EvaluateSmallModel(**model) ? "loaded and evaluated"
                                                       : "loaded, too large to evaluate");
  return 0;
}
