// The tensor table: every tensor a transformer may have, described ONCE.
//
// Each row gives a tensor's role, its GGUF base name, whether it is per model or per layer, the
// Weights member that holds it, when a Config has it, and its shape as a function of the Config.
// Weights::Skeleton, Weights::ForEachTensor(Together), the GGUF loader's checks, role names and
// the set of linear layers that observers see are all driven from it. Adding a tensor (a new
// architecture's norm, a pruned model's factor) is one row here plus one Weights member.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shrink {

struct Config;
struct TensorView;
struct LayerWeights;
struct Weights;

// What a tensor is for. GGUF names follow from role + layer (TensorName).
enum class TensorRole {
  kTokenEmbd,
  kAttnNorm,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnQNorm,
  kAttnKNorm,
  kAttnOutput,
  kAttnPostNorm,
  kFfnNorm,
  kFfnGate,
  kFfnUp,
  kFfnDown,
  kFfnPostNorm,
  kOutputNorm,
  kOutput,
};

enum class TensorScope { kModel, kLayer };

struct TensorSpec {
  TensorRole role;
  std::string_view name;  // GGUF base name: "attn_q" (layer l: "blk.l.attn_q.weight")
  TensorScope scope;
  TensorView Weights::*model_member = nullptr;       // scope kModel
  TensorView LayerWeights::*layer_member = nullptr;  // scope kLayer
  // Whether a model of this config has the tensor (e.g. untied output, Q/K norms).
  bool (*listed)(const Config& config) = nullptr;
  // The shape in ggml order (shape[0] contiguous) for layer `layer` (-1 for model tensors).
  std::vector<int64_t> (*shape)(const Config& config, int layer) = nullptr;
  // True for a weight matrix that multiplies activations (x · Wᵀ): what calibration observes.
  bool linear = false;
};

// All rows, in visiting order: model tensors before the layers (token_embd), the layer rows, then
// model tensors after them (output_norm, output).
std::span<const TensorSpec> TensorTable();
// The row of `role`.
const TensorSpec& SpecOf(TensorRole role);

// The GGUF base name of a role: "token_embd", "attn_q", "post_attention_norm", ...
std::string_view TensorRoleName(TensorRole role);
// The GGUF tensor name: "token_embd.weight", "blk.3.attn_q.weight" (layer < 0 for model tensors).
std::string TensorName(TensorRole role, int layer);

}  // namespace shrink
