#include "quant/fallback.h"

#include <array>
#include <utility>

namespace shrink {
namespace {

using T = TensorType;

// llama.cpp's tensor_type_fallback, for the types in the formats table.
constexpr std::array<std::pair<T, T>, 6> kSmallerBlock = {{
    {T::kQ2_K, T::kQ4_0},
    {T::kQ3_K, T::kQ4_0},
    {T::kQ4_K, T::kQ5_0},
    {T::kQ5_K, T::kQ5_1},
    {T::kQ6_K, T::kQ8_0},
    {T::kIQ4_XS, T::kIQ4_NL},
}};

bool Fits(T type, int64_t row_length) { return row_length % Traits(type).block_elements == 0; }

}  // namespace

std::optional<TensorType> SmallerBlockType(TensorType type) {
  for (const auto& [from, to] : kSmallerBlock) {
    if (from == type) return to;
  }
  return std::nullopt;
}

TypeFallback FallbackForRow(TensorType chosen, int64_t row_length) {
  if (Fits(chosen, row_length)) return {chosen, false};
  const std::optional<T> smaller = SmallerBlockType(chosen);
  if (smaller && Fits(*smaller, row_length)) return {*smaller, true};
  return {T::kF16, true};  // F16 has one-element blocks: it fits every row
}

}  // namespace shrink
