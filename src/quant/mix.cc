#include "quant/mix.h"

#include <array>

namespace shrink {
namespace {

using R = TensorRole;
using T = TensorType;

// The matrix that produces the logits (llama.cpp: "output.weight", or "token_embd.weight" when
// the model has no output.weight).
constexpr RoleSet kLogitsRoles = {R::kOutput, R::kTokenEmbd};

constexpr QuantRule kLogitsMisfit = {
    .roles = kLogitsRoles,
    .when = {.output_matrix = true, .row_misfits_base = true},
    .type = T::kQ8_0,
    .why = "llama.cpp: output matrix whose row is not a multiple of the base block"};
constexpr QuantRule kLogitsQ6K = {.roles = kLogitsRoles,
                                  .when = {.output_matrix = true},
                                  .type = T::kQ6_K,
                                  .why = "llama.cpp: output matrix"};

constexpr QuantRule AttnV(T type, std::string_view why, LayerSelector layers = layers::kAll,
                          int32_t min_gqa = 0) {
  return {.roles = {R::kAttnV},
          .layers = layers,
          .when = {.min_gqa = min_gqa},
          .type = type,
          .why = why};
}
constexpr QuantRule FfnDown(T type, std::string_view why, LayerSelector layers = layers::kAll,
                            ImatrixNeed imatrix = ImatrixNeed::kEither) {
  return {.roles = {R::kFfnDown},
          .layers = layers,
          .when = {.imatrix = imatrix},
          .type = type,
          .why = why};
}
constexpr QuantRule AttnOutput(T type, std::string_view why) {
  return {.roles = {R::kAttnOutput}, .type = type, .why = why};
}

constexpr LayerSelector kFirst2 = layers::First(2, "first 2 layers");
constexpr LayerSelector kFirst4 = layers::First(4, "first 4 layers");
constexpr LayerSelector kFirstEighth = layers::FirstFraction(8, "first n/8 layers");
constexpr LayerSelector kFirstSixteenth = layers::FirstFraction(16, "first n/16 layers");

// Legacy block-32 mixes, Q6_K, Q3_K_S, Q5_K_S: only the output matrix differs from the base.
constexpr std::array kLogitsOnly = {kLogitsMisfit, kLogitsQ6K};
// Q4_0 and Q5_0: with an imatrix, llama.cpp guards the first ffn_down layers against "craziness"
// with the type that has a min (its comment: only with an imatrix, so that a run without one
// quantizes as it always did).
constexpr std::array kQ4_0 = {
    kLogitsMisfit, kLogitsQ6K,
    FfnDown(T::kQ4_1, "llama.cpp Q4_0 with imatrix: ffn_down of the first n/8 layers", kFirstEighth,
            ImatrixNeed::kWith)};
constexpr std::array kQ5_0 = {
    kLogitsMisfit, kLogitsQ6K,
    FfnDown(T::kQ5_1, "llama.cpp Q5_0 with imatrix: ffn_down of the first n/8 layers", kFirstEighth,
            ImatrixNeed::kWith)};

constexpr std::array kQ2_K = {
    kLogitsMisfit,
    kLogitsQ6K,
    AttnV(T::kQ4_K, "llama.cpp Q2_K: attn_v with GQA >= 4", layers::kAll, /*min_gqa=*/4),
    AttnV(T::kQ3_K, "llama.cpp Q2_K: attn_v"),
    FfnDown(T::kQ3_K, "llama.cpp Q2_K: ffn_down"),
    AttnOutput(T::kQ3_K, "llama.cpp Q2_K: attn_output"),
};
constexpr std::array kQ3_K_M = {
    kLogitsMisfit,
    kLogitsQ6K,
    AttnV(T::kQ5_K, "llama.cpp Q3_K_M: attn_v of the first 2 layers", kFirst2),
    AttnV(T::kQ4_K, "llama.cpp Q3_K_M: attn_v"),
    FfnDown(T::kQ5_K, "llama.cpp Q3_K_M: ffn_down of the first n/16 layers", kFirstSixteenth),
    FfnDown(T::kQ4_K, "llama.cpp Q3_K_M: ffn_down"),
    AttnOutput(T::kQ4_K, "llama.cpp Q3_K_M: attn_output"),
};
constexpr std::array kQ3_K_L = {
    kLogitsMisfit,
    kLogitsQ6K,
    AttnV(T::kQ5_K, "llama.cpp Q3_K_L: attn_v"),
    FfnDown(T::kQ5_K, "llama.cpp Q3_K_L: ffn_down"),
    AttnOutput(T::kQ5_K, "llama.cpp Q3_K_L: attn_output"),
};
constexpr std::array kQ4_K_S = {
    kLogitsMisfit,
    kLogitsQ6K,
    AttnV(T::kQ5_K, "llama.cpp Q4_K_S: attn_v of the first 4 layers", kFirst4),
    FfnDown(T::kQ5_K, "llama.cpp Q4_K_S: ffn_down of the first n/8 layers", kFirstEighth),
};
// Q4_K_M and Q5_K_M: attn_v and ffn_down get Q6_K on llama.cpp's use_more_bits layers.
constexpr std::array kMoreBitsMix = {
    kLogitsMisfit,
    kLogitsQ6K,
    AttnV(T::kQ6_K, "llama.cpp *_K_M: attn_v on use_more_bits layers", layers::kMoreBits),
    FfnDown(T::kQ6_K, "llama.cpp *_K_M: ffn_down on use_more_bits layers", layers::kMoreBits),
};
constexpr std::array kIQ4 = {
    kLogitsMisfit,
    kLogitsQ6K,
    AttnV(T::kQ5_K, "llama.cpp IQ4_NL/IQ4_XS: attn_v with GQA >= 4", layers::kAll, /*min_gqa=*/4),
    FfnDown(T::kQ5_K, "llama.cpp IQ4_NL/IQ4_XS without imatrix: ffn_down of the first n/8 layers",
            kFirstEighth, ImatrixNeed::kWithout),
};

// In llama.h's enum llama_ftype order.
constexpr std::array<QuantMix, 19> kMixes = {{
    {"F32", 0, T::kF32, {}},
    {"F16", 1, T::kF16, {}},
    {"Q4_0", 2, T::kQ4_0, kQ4_0},
    {"Q4_1", 3, T::kQ4_1, kLogitsOnly},
    {"Q8_0", 7, T::kQ8_0, {}},
    {"Q5_0", 8, T::kQ5_0, kQ5_0},
    {"Q5_1", 9, T::kQ5_1, kLogitsOnly},
    {"Q2_K", 10, T::kQ2_K, kQ2_K},
    {"Q3_K_S", 11, T::kQ3_K, kLogitsOnly},
    {"Q3_K_M", 12, T::kQ3_K, kQ3_K_M},
    {"Q3_K_L", 13, T::kQ3_K, kQ3_K_L},
    {"Q4_K_S", 14, T::kQ4_K, kQ4_K_S},
    {"Q4_K_M", 15, T::kQ4_K, kMoreBitsMix},
    {"Q5_K_S", 16, T::kQ5_K, kLogitsOnly},
    {"Q5_K_M", 17, T::kQ5_K, kMoreBitsMix},
    {"Q6_K", 18, T::kQ6_K, kLogitsOnly},
    {"IQ4_NL", 25, T::kIQ4_NL, kIQ4},
    {"IQ4_XS", 30, T::kIQ4_XS, kIQ4},
    {"BF16", 32, T::kBF16, {}},
}};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::span<const QuantMix> AllMixes() { return kMixes; }

Result<const QuantMix*> FindMix(std::string_view name) {
  for (const QuantMix& mix : kMixes) {
    if (EqualsIgnoreCase(mix.name, name)) return &mix;
  }
  return Status::Errorf("unknown quantization type '{}'; valid types: {}", name, MixNames());
}

std::string MixNames() {
  std::string out;
  for (const QuantMix& mix : kMixes) {
    if (!out.empty()) out += ", ";
    out += mix.name;
  }
  return out;
}

}  // namespace shrink
