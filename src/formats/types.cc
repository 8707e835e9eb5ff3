#include "formats/types.h"

#include <array>
#include <limits>

#include "base/check.h"
#include "formats/block_codec.h"
#include "formats/block_grid.h"
#include "formats/float_types.h"
#include "formats/iq_quants.h"
#include "formats/k_quants.h"
#include "formats/legacy_quants.h"

namespace shrink {
namespace {

// The one table. Block formats take their sizes from their block structs (whose sizes are
// static_asserted in the family headers) and their codecs from the generic row loops over the
// format's traits, so a row cannot disagree with its layout.
template <typename Format>
constexpr TypeTraits BlockRow(TensorType type, std::string_view name, bool has_encoder) {
  EncodeFn encode = nullptr;
  if constexpr (requires(const float* x, typename Format::Block& b) {
                  Format::EncodeBlock(x, b);
                }) {
    if (has_encoder) encode = &EncodeRow<Format>;
  }
  EncodeWeightedFn encode_weighted = nullptr;
  // The weighted codec once took (x, w, block): fail loudly rather than drop such an encoder.
  static_assert(
      !requires(const float* x, const float* w, typename Format::Block& b) {
        Format::EncodeBlockWeighted(x, w, b);
      },
      "EncodeBlockWeighted takes (x, w, row_mean_square, block): see block_codec.h");
  if constexpr (requires(const float* x, const float* w, typename Format::Block& b) {
                  Format::EncodeBlockWeighted(x, w, 0.0f, b);
                }) {
    if (has_encoder) encode_weighted = &EncodeWeightedRow<Format>;
  }
  const BlockGrid* grid = nullptr;
  if constexpr (requires(typename Format::Block & b) { Format::SetCode(b, 0, 0); }) {
    if (has_encoder) grid = &kBlockGridOf<Format>;
  }
  return {.type = type,
          .name = name,
          .block_elements = Format::kBlockElements,
          .block_bytes = sizeof(typename Format::Block),
          .decode = &DecodeRow<Format>,
          .encode = encode,
          .encode_weighted = encode_weighted,
          .grid = grid};
}

constexpr std::array<TypeTraits, 16> kTypes = {{
    {.type = TensorType::kF32,
     .name = "F32",
     .block_elements = 1,
     .block_bytes = 4,
     .decode = &DecodeF32,
     .encode = &EncodeF32,
     .encode_weighted = nullptr,
     .grid = nullptr},
    {.type = TensorType::kF16,
     .name = "F16",
     .block_elements = 1,
     .block_bytes = 2,
     .decode = &DecodeF16,
     .encode = &EncodeF16,
     .encode_weighted = nullptr,
     .grid = nullptr},
    BlockRow<Q4_0Format>(TensorType::kQ4_0, "Q4_0", true),
    BlockRow<Q4_1Format>(TensorType::kQ4_1, "Q4_1", true),
    BlockRow<Q5_0Format>(TensorType::kQ5_0, "Q5_0", true),
    BlockRow<Q5_1Format>(TensorType::kQ5_1, "Q5_1", true),
    BlockRow<Q8_0Format>(TensorType::kQ8_0, "Q8_0", true),
    BlockRow<Q2_KFormat>(TensorType::kQ2_K, "Q2_K", true),
    BlockRow<Q3_KFormat>(TensorType::kQ3_K, "Q3_K", true),
    BlockRow<Q4_KFormat>(TensorType::kQ4_K, "Q4_K", true),
    BlockRow<Q5_KFormat>(TensorType::kQ5_K, "Q5_K", true),
    BlockRow<Q6_KFormat>(TensorType::kQ6_K, "Q6_K", true),
    BlockRow<Q8_KFormat>(TensorType::kQ8_K, "Q8_K", false),
    BlockRow<IQ4_NLFormat>(TensorType::kIQ4_NL, "IQ4_NL", true),
    BlockRow<IQ4_XSFormat>(TensorType::kIQ4_XS, "IQ4_XS", true),
    {.type = TensorType::kBF16,
     .name = "BF16",
     .block_elements = 1,
     .block_bytes = 2,
     .decode = &DecodeBF16,
     .encode = &EncodeBF16,
     .encode_weighted = nullptr,
     .grid = nullptr},
}};

constexpr bool InIdOrder() {
  for (size_t i = 1; i < kTypes.size(); ++i) {
    if (static_cast<uint32_t>(kTypes[i - 1].type) >= static_cast<uint32_t>(kTypes[i].type))
      return false;
  }
  return true;
}
static_assert(InIdOrder(), "kTypes rows must be in ascending ggml id order");

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::span<const TypeTraits> AllTypes() { return kTypes; }

const TypeTraits* FindType(uint32_t ggml_type_id) {
  for (const TypeTraits& row : kTypes) {
    if (static_cast<uint32_t>(row.type) == ggml_type_id) return &row;
  }
  return nullptr;
}

const TypeTraits& Traits(TensorType type) {
  const TypeTraits* row = FindType(static_cast<uint32_t>(type));
  SHRINK_CHECK(row != nullptr);
  return *row;
}

Result<int64_t> RowBytes(TensorType type, int64_t elements) {
  const TypeTraits& t = Traits(type);
  if (elements < 0) {
    return Status::Errorf("{} row of {} elements: the count is negative", t.name, elements);
  }
  if (elements % t.block_elements != 0) {
    return Status::Errorf("{} row of {} elements: not a multiple of the block size {}", t.name,
                          elements, t.block_elements);
  }
  const int64_t blocks = elements / t.block_elements;
  if (blocks > std::numeric_limits<int64_t>::max() / t.block_bytes) {
    return Status::Errorf("{} row of {} elements: byte size overflows 64 bits", t.name, elements);
  }
  return blocks * t.block_bytes;
}

const TypeTraits* FindTypeByName(std::string_view name) {
  for (const TypeTraits& row : kTypes) {
    if (EqualsIgnoreCase(row.name, name)) return &row;
  }
  return nullptr;
}

}  // namespace shrink
