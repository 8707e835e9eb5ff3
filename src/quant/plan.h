// QuantPlan: the type every tensor of a model gets under a mix (quant/mix.h), and why.
//
// For each tensor, in the order given:
//   1. a 1-D tensor (a norm) stays F32;
//   2. else the first rule of the mix that matches the tensor's role, layer and condition chooses
//      its type; with no match (or with `pure`), the mix's base type;
//   3. a chosen type whose block does not divide the row length falls back (quant/fallback.h).
// The plan keeps the rule index and the fallback so that --explain can print both, and the byte
// size of each tensor in its new type, so that --dry-run can print the file size. With an
// importance matrix (quantize --imatrix) rules may differ (RuleCondition::imatrix), and
// AttachImatrix (quant/importance.h) records per tensor whether and with what weights its encoding
// is importance-weighted.
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

// Whether an importance matrix weighs a tensor's encoding (quant/importance.h).
enum class ImportanceUse : uint8_t {
  kNone,            // no imatrix given, or the tensor keeps its bytes or is a vector
  kUsed,            // encoded by its type's encode_weighted with `importance`
  kTypeUnweighted,  // its type has no importance-weighted encoder (F16, Q8_0, ...): encoded as ever
  kNoEntry,         // the imatrix has no entry for it (token_embd; output.weight by default)
};

struct TensorPlan {
  static constexpr int32_t kBaseType = -1;  // `rule` when no rule matched: the mix's base type
  static constexpr int32_t kVector = -2;    // `rule` for a 1-D tensor: F32
  static constexpr int32_t kBudget = -3;    // `rule` when a size budget chose (quant/budget.h)
  static constexpr int32_t kOverride = -4;  // `rule` when --tensor-type NAME=TYPE chose

  const TensorView* source = nullptr;    // name, role, layer, shape, stored type and bytes
  int32_t rule = kBaseType;              // index into mix->rules, or kBaseType / kVector
  TensorType chosen = TensorType::kF32;  // what step 1 or 2 chose
  TensorType type = TensorType::kF32;    // what the tensor gets (after the fallback)
  bool fell_back = false;                // type != chosen because of the row length
  uint64_t bytes = 0;                    // the tensor's size in `type`
  double proxy_loss = -1.0;              // with kBudget: `type`'s sensitivity proxy (>= 0)
  ImportanceUse importance_use = ImportanceUse::kNone;
  // With kUsed: (n_mat, cols) per-column weights (the imatrix's mean of x², one row per matrix of
  // a stacked tensor), owned by the caller of AttachImatrix; otherwise empty.
  std::span<const float> importance;

  // True when the tensor keeps its stored type: its bytes are copied, not re-encoded.
  bool copied() const { return type == source->type; }
};

struct QuantPlan {
  const QuantMix* mix = nullptr;
  bool pure = false;          // rules ignored: every matrix got the base type
  bool with_imatrix = false;  // planned for an importance matrix (rules' ImatrixNeed)
  int32_t n_layers = 0;
  std::vector<TensorPlan> tensors;  // in output order

  uint64_t tensor_bytes() const;  // Σ TensorPlan::bytes, padding excluded
};

// Plans `tensors` (views of one model of `config`, in the order the output will have them), for a
// run with an importance matrix when `with_imatrix`.
// REQUIRES: every view is listed and has a shape.
QuantPlan PlanQuantization(const Config& config, std::span<const TensorView* const> tensors,
                           const QuantMix& mix, bool pure = false, bool with_imatrix = false);

// True when `rule` matches `tensor` of a model of `config`, in a mix whose base type is `base`, in
// a run with (or without) an importance matrix.
bool RuleMatches(const QuantRule& rule, const TensorView& tensor, const Config& config,
                 TensorType base, bool with_imatrix = false);

// The views of `weights` in the order `names` gives (e.g. a source GGUF's tensor table). Errors: a
// name that is not a tensor of `weights` (quantizing would drop it), or a tensor of `weights` that
// `names` leaves out.
Result<std::vector<const TensorView*>> TensorsInOrder(const Weights& weights,
                                                      std::span<const std::string> names);
// The views of `weights` in tensor-table order (Weights::ForEachTensor).
std::vector<const TensorView*> TensorsInTableOrder(const Weights& weights);

// Gives the tensor called `name` the type `type` (TensorPlan::kOverride), as quantize
// --tensor-type NAME=TYPE. Errors: no tensor of that name, a 1-D tensor, or a type whose block
// does not divide the tensor's rows (naming the row length and the block).
Status OverrideTensorType(QuantPlan& plan, std::string_view name, TensorType type);

// Every tensor whose new type must be encoded must have an encoder in the formats table. Error:
// "blk.0.ffn_down.weight: no encoder for Q6_K yet (...)", naming the first such tensor and how
// many more there are.
Status CheckEncodable(const QuantPlan& plan);

}  // namespace shrink
