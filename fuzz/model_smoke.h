// Shared by the model-loading harnesses: runs a few forward steps of a loaded model when it is small
// enough to do so quickly, so that whatever a loader accepts is also safe to evaluate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "base/check.h"
#include "model/model.h"
#include "model/prepared_model.h"
#include "model/sampler.h"
#include "model/transformer.h"

namespace shrink::fuzz {

// Bounds on what gets evaluated: a fuzz input stays well under a millisecond of math and a few MB.
inline constexpr int64_t kMaxSmokeElements = int64_t{1} << 20;
inline constexpr int kMaxSmokeLayers = 32;
inline constexpr int32_t kMaxSmokeContext = 6;

// Evaluates up to kMaxSmokeContext − 1 prompt tokens (the tokenizer's encoding of a short text, or
// ids 1, 2, 3 modulo the vocabulary when there is no tokenizer or it yields nothing), then samples and evaluates one more
// token with the greedy and a random sampler. Returns without evaluating when the model is larger
// than the bounds above (returns whether it evaluated). Aborts (a finding) when a step that must
// succeed fails. With
// SHRINK_FUZZ_VERBOSE set, prints what it evaluated (to check that seeds reach the forward pass).
inline bool EvaluateSmallModel(const Model& model) {
  const Config& c = model.config;
  int64_t elements = 0;
  model.weights.ForEachTensor([&](const TensorView& v) {
    int64_t n = 1;
    for (int64_t d : v.shape) n *= d;
    elements += n;
  });
  if (elements > kMaxSmokeElements || c.n_layers > kMaxSmokeLayers) return false;

  const int32_t context = std::min(c.context_length, kMaxSmokeContext);
  std::vector<TokenId> prompt;
  if (model.tokenizer != nullptr) {
    prompt = model.tokenizer->Encode("Once upon a time", /*add_special=*/true,
                                     /*parse_special=*/false);
    for (TokenId id : prompt) SHRINK_CHECK(id >= 0 && id < c.vocab_size);
  }
  if (prompt.empty()) {
    for (TokenId id : {1, 2, 3}) prompt.push_back(id % c.vocab_size);
  }
  if (static_cast<int32_t>(prompt.size()) > context - 1) prompt.resize(std::max(1, context - 1));

  PreparedModel prepared(model);
  InferenceSession session(prepared, context);
  std::vector<float> logits(prompt.size() * static_cast<size_t>(c.vocab_size));
  const Status first = session.Evaluate(prompt, logits);
  if (!first.ok()) std::fprintf(stderr, "Evaluate: %s\n", first.message().c_str());
  SHRINK_CHECK(first.ok());
  if (session.position() >= context) return true;

  const std::span<const float> last(logits.data() + logits.size() - c.vocab_size, c.vocab_size);
  const TokenId greedy = Argmax(last);
  SHRINK_CHECK(greedy >= 0 && greedy < c.vocab_size);
  Sampler sampler({.temperature = 0.8f, .top_p = 0.9f, .seed = 1});
  const TokenId sampled = sampler.Sample(last);
  SHRINK_CHECK(sampled >= 0 && sampled < c.vocab_size);
  if (model.tokenizer != nullptr) {
    volatile size_t sink = model.tokenizer->TokenToPiece(sampled, true).size() +
                           model.tokenizer->TokenToPieceAfter(greedy, sampled, false).size();
    (void)sink;
  }
  const TokenId next[] = {sampled};
  std::vector<float> next_logits(c.vocab_size);
  const Status second = session.Evaluate(next, next_logits);
  if (!second.ok()) std::fprintf(stderr, "Evaluate: %s\n", second.message().c_str());
  SHRINK_CHECK(second.ok());
  if (std::getenv("SHRINK_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "evaluated %zu + 1 tokens: %s\n", prompt.size(), c.Summary().c_str());
  }
  return true;
}

}  // namespace shrink::fuzz
