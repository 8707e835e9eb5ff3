// Quantization mixes as data: for each file type a user can ask for (`--type Q4_K_M`), an ordered
// table of per-tensor rules keyed by tensor role and layer position.
//
// A tensor's type is chosen by the first rule of its mix that matches it (its role is in the rule's
// role set, its layer is in the rule's LayerSelector and the rule's condition holds); a tensor that
// no rule matches gets the mix's base type. Two things come before and after the table, for every
// mix (quant/plan.h):
//   - 1-D tensors (norms) always stay F32;
//   - a chosen k-quant or IQ type whose block does not divide the row length falls back to a
//     block-32 type (quant/fallback.h), and the plan says so per tensor.
//
// The mixes follow llama-quantize (llama.cpp src/llama-quant.cpp, llama_tensor_get_type) for the
// llama and gemma3 architectures: the output projection (or
// token_embd when the output reuses it) gets Q6_K, or Q8_0 when its row is not a multiple of the
// base type's block; attn_v and ffn_down get more bits in the *_M mixes on llama.cpp's
// use_more_bits layers; Q2_K and Q3_K_M raise attn_v, ffn_down and attn_output. Two rules depend
// on whether an importance matrix is given (quantize --imatrix), as llama-quantize's do: with one,
// Q4_0 and Q5_0 give the first n/8 ffn_down Q4_1 / Q5_1; without one, IQ4_NL and IQ4_XS give them
// Q5_K. F32, F16 and BF16
// are the base type everywhere (llama.cpp applies no rules to unquantized file types).
// tests/oracles/fixtures/llama_quantize_plans_*.tsv hold llama-quantize's own choices, with and
// without an imatrix, and mix_test.cc checks every mix against them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "formats/types.h"
#include "model/tensor_table.h"
#include "quant/layer_selector.h"

namespace shrink {

// A set of tensor roles (one bit per TensorRole).
struct RoleSet {
  uint32_t bits = 0;
  constexpr RoleSet(std::initializer_list<TensorRole> roles) {
    for (TensorRole r : roles) bits |= uint32_t{1} << static_cast<uint32_t>(r);
  }
  constexpr bool Has(TensorRole role) const { return (bits >> static_cast<uint32_t>(role)) & 1u; }
};

// Whether a rule needs an importance matrix to be given, or its absence.
enum class ImatrixNeed : uint8_t { kEither, kWith, kWithout };

// Conditions a rule may add to its role and layer match; the defaults always hold.
struct RuleCondition {
  // Only the matrix that produces the logits: `output`, or `token_embd` when the model ties them.
  bool output_matrix = false;
  // Only when grouped-query attention shares each K/V head among at least this many query heads
  // (n_heads / n_kv_heads ≥ min_gqa; llama.cpp's n_gqa() ≥ 4). 0: any.
  int32_t min_gqa = 0;
  // Only when the row length (shape[0]) is not a multiple of the mix base type's block size.
  bool row_misfits_base = false;
  // Only with (or only without) an importance matrix (quantize --imatrix).
  ImatrixNeed imatrix = ImatrixNeed::kEither;
};

struct QuantRule {
  RoleSet roles;
  LayerSelector layers = layers::kAll;
  RuleCondition when = {};
  TensorType type;
  std::string_view why;  // one phrase for --explain: where the rule comes from
};

struct QuantMix {
  std::string_view name;             // as llama-quantize spells it: "Q4_K_M"
  uint32_t llama_ftype;              // llama.h's enum llama_ftype, written to general.file_type
  TensorType base;                   // the type of every matrix no rule matches
  std::span<const QuantRule> rules;  // in priority order: the first match wins
};

// Every mix, in llama.h's ftype order.
std::span<const QuantMix> AllMixes();
// The mix named `name` (case-insensitive), or an error listing every valid name.
Result<const QuantMix*> FindMix(std::string_view name);
// "F32, F16, Q4_0, ...": every mix name, for messages and --help.
std::string MixNames();

}  // namespace shrink
