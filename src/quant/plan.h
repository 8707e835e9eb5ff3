// QuantPlan: the type every tensor of a model gets under a mix (quant/mix.h), and why.
//
// For each tensor, in the order given:
//   1. a 1-D tensor (a norm) stays F32;
//   2. else the first rule of the mix that matches the tensor's role, layer and condition chooses
//      its type; with no match (or with `pure`), the mix's base type;
//   3. a chosen type whose block does not divide the row length falls back (quant/fallback.h).
// The plan keeps the rule index and the fallback so that --explain can print both, and the byte
// size of each tensor in its new type, so that --dry-run can print the file size.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "formats/types.h"
#include "model/config.h"
#include "model/weights.h"
#include "quant/mix.h"

namespace shrink {

struct TensorPlan {
  static constexpr int32_t kBaseType = -1;  // `rule` when no rule matched: the mix's base type
  static constexpr int32_t kVector = -2;    // `rule` for a 1-D tensor: F32

  const TensorView* source = nullptr;    // name, role, layer, shape, stored type and bytes
  int32_t rule = kBaseType;              // index into mix->rules, or kBaseType / kVector
  TensorType chosen = TensorType::kF32;  // what step 1 or 2 chose
  TensorType type = TensorType::kF32;    // what the tensor gets (after the fallback)
  bool fell_back = false;                // type != chosen because of the row length
  uint64_t bytes = 0;                    // the tensor's size in `type`

  // True when the tensor keeps its stored type: its bytes are copied, not re-encoded.
  bool copied() const { return type == source->type; }
};

struct QuantPlan {
  const QuantMix* mix = nullptr;
  bool pure = false;  // rules ignored: every matrix got the base type
  int32_t n_layers = 0;
  std::vector<TensorPlan> tensors;  // in output order

  uint64_t tensor_bytes() const;  // Σ TensorPlan::bytes, padding excluded
};

// Plans `tensors` (views of one model of `config`, in the order the output will have them).
// REQUIRES: every view is listed and has a shape.
QuantPlan PlanQuantization(const Config& config, std::span<const TensorView* const> tensors,
                           const QuantMix& mix, bool pure = false);

// True when `rule` matches `tensor` of a model of `config`, in a mix whose base type is `base`.
bool RuleMatches(const QuantRule& rule, const TensorView& tensor, const Config& config,
                 TensorType base);

// The views of `weights` in the order `names` gives (e.g. a source GGUF's tensor table). Errors: a
// name that is not a tensor of `weights` (quantizing would drop it), or a tensor of `weights` that
// `names` leaves out.
Result<std::vector<const TensorView*>> TensorsInOrder(const Weights& weights,
                                                      std::span<const std::string> names);
// The views of `weights` in tensor-table order (Weights::ForEachTensor).
std::vector<const TensorView*> TensorsInTableOrder(const Weights& weights);

// Every tensor whose new type must be encoded must have an encoder in the formats table. Error:
// "blk.0.ffn_down.weight: no encoder for Q6_K yet (...)", naming the first such tensor and how
// many more there are.
Status CheckEncodable(const QuantPlan& plan);

}  // namespace shrink
