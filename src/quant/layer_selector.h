// LayerSelector: which layers of an n-layer model a quantization rule applies to, as data.
//
// A selector is a union of up to three clauses. Clause c selects layer l (0 ≤ l < n) when
//
//   begin(n) ≤ l < end(n)   and   (l − begin(n)) mod step == phase,
//
// where a bound is ⌊n·num/den⌋ + plus (integer division, as llama.cpp writes its fractions: n/8 of
// a 30-layer model is 3, and 7·n/8 is 26, not n − n/8 = 27). That covers what llama-quantize uses:
//   all layers                        [0, n)
//   the first k layers                [0, k)            (Q3_K_M's attn_v: k = 2)
//   the first n/8 or n/16 of layers   [0, ⌊n/8⌋)
//   llama.cpp's use_more_bits         [0, ⌊n/8⌋) ∪ [⌊7n/8⌋, n) ∪ every 3rd of [⌊n/8⌋, n) from the
//                                     third on: (l − ⌊n/8⌋) mod 3 == 2
// plus the last k layers and every k-th layer, for rules of our own.
//
// Model-scope tensors (token_embd, output_norm, output: layer −1) are selected only by a selector
// that selects every layer (`all`).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shrink {

// ⌊n·num/den⌋ + plus. REQUIRES: den > 0.
struct LayerBound {
  int32_t num = 0;
  int32_t den = 1;
  int32_t plus = 0;
  constexpr int32_t Resolve(int32_t n) const { return n * num / den + plus; }
};

struct LayerClause {
  LayerBound begin = {0, 1, 0};
  LayerBound end = {1, 1, 0};
  int32_t step = 1;   // > 0
  int32_t phase = 0;  // 0 ≤ phase < step
  constexpr bool Selects(int32_t l, int32_t n) const {
    const int32_t b = begin.Resolve(n);
    return l >= b && l < end.Resolve(n) && (l - b) % step == phase;
  }
};

struct LayerSelector {
  std::string_view name;  // for --explain: "first n/8 layers"
  bool all = false;       // every layer and the model-scope tensors; clauses unused
  std::array<LayerClause, 3> clauses = {};
  int32_t clause_count = 0;

  // True when layer `layer` of `n_layers` is selected; layer < 0 (a model-scope tensor) only when
  // `all`.
  constexpr bool Selects(int32_t layer, int32_t n_layers) const {
    if (all) return true;
    if (layer < 0) return false;
    for (int32_t i = 0; i < clause_count; ++i) {
      if (clauses[i].Selects(layer, n_layers)) return true;
    }
    return false;
  }
  // The selected layers of an n-layer model, ascending.
  std::vector<int32_t> Resolve(int32_t n_layers) const;
  // "first n/8 layers (0-2 of 30)": the name and the layers it resolves to for n_layers.
  std::string Describe(int32_t n_layers) const;
};

namespace layers {

inline constexpr LayerSelector kAll = {.name = "all layers", .all = true};

// The first k layers: [0, k).
constexpr LayerSelector First(int32_t k, std::string_view name) {
  return {.name = name, .clauses = {LayerClause{.end = {0, 1, k}}}, .clause_count = 1};
}
// The last k layers: [n − k, n).
constexpr LayerSelector Last(int32_t k, std::string_view name) {
  return {.name = name, .clauses = {LayerClause{.begin = {1, 1, -k}}}, .clause_count = 1};
}
// The first ⌊n/den⌋ layers.
constexpr LayerSelector FirstFraction(int32_t den, std::string_view name) {
  return {.name = name, .clauses = {LayerClause{.end = {1, den, 0}}}, .clause_count = 1};
}
// Every k-th layer from layer `phase` on: l mod k == phase.
constexpr LayerSelector Every(int32_t k, int32_t phase, std::string_view name) {
  return {.name = name, .clauses = {LayerClause{.step = k, .phase = phase}}, .clause_count = 1};
}

// llama.cpp's use_more_bits(l, n): l < n/8 || l >= 7n/8 || (l − n/8) % 3 == 2.
inline constexpr LayerSelector kMoreBits = {
    .name = "use_more_bits layers (first n/8, from 7n/8 on, every 3rd from n/8+2)",
    .clauses = {LayerClause{.end = {1, 8, 0}}, LayerClause{.begin = {7, 8, 0}},
                LayerClause{.begin = {1, 8, 0}, .step = 3, .phase = 2}},
    .clause_count = 3};

}  // namespace layers
}  // namespace shrink
