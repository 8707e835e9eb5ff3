// Fuzzes the llama2.c checkpoint reader (Llama2cCheckpoint::Open) and the model loader on top of it
// (LoadLlama2cTransformer), then runs a few forward steps of every small model that loads
// (model_smoke.h; token ids only, as the tokenizer is a separate file with its own harness).
//
// Invariant: every weight span of an opened checkpoint lies inside the mapped file, so nothing a
// reader accepts can send a forward pass past the mapping.
//
// Known open bug (issue 6, being fixed in src/io/llama2c_checkpoint.cc): the reader's size
// arithmetic overflows int64 for huge header fields (fuzz/regressions/llama2c_checkpoint/). With
// SHRINK_FUZZ_SKIP_KNOWN=1 in the environment such headers are skipped, so that a long run can look
// past that bug; scripts/run-fuzzers never sets it. Remove the skip once the fix is merged.
#include <cstdlib>
#include <cstring>

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

// True when the header's fields are positive and the float count the reader computes from them
// (the same sums of products, in 128 bits) does not fit int64 bytes.
bool SizeArithmeticOverflows(const uint8_t* data, size_t size) {
  if (size < 28) return false;
  int32_t f[7];
  std::memcpy(f, data, sizeof(f));
  const __int128 dim = f[0], hidden = f[1], layers = f[2], heads = f[3], kv_heads = f[4],
                 seq = f[6];
  const __int128 vocab = f[5] < 0 ? -static_cast<__int128>(f[5]) : f[5];
  if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || vocab <= 0 ||
      seq <= 0 || dim % heads != 0) {
    return false;
  }
  const __int128 hs = dim / heads, kv_dim = kv_heads * hs;
  const __int128 floats =
      2 * vocab * dim + layers * dim * (2 + 2 * dim + 2 * kv_dim + 3 * hidden) + dim + seq * hs;
  return floats * 4 + 28 > INT64_MAX;
}

}  // namespace
}  // namespace shrink

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  static const bool skip_known = std::getenv("SHRINK_FUZZ_SKIP_KNOWN") != nullptr;
  if (skip_known && SizeArithmeticOverflows(data, size)) {
    fuzz::CountOutcome("skipped: known open size overflow");
    return 0;
  }
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
