// The tensor table: every tensor a transformer may have, described ONCE.
//
// Each row gives a tensor's role, its GGUF base name, whether it is per model or per layer, the
// Weights member that holds it, when a Config has it, and its shape as a function of the Config.
// Weights::Skeleton, Weights::ForEachTensor(Together), the GGUF loader's checks, role names and
// the set of linear layers that observers see are all driven from it. Adding a tensor (a new
// architecture's norm, a pruned model's factor) is one row here plus one Weights member.
#pragma once

#include <cstddef>
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

inline constexpr size_t kTensorRoleCount = static_cast<size_t>(TensorRole::kOutput) + 1;

enum class TensorScope { kModel, kLayer };

// How a tensor is stored. A linear inside the blocks (a `linear` layer row) may be stored as a
// low-rank factor pair instead of whole (`shrink prune --method svd`; docs/formats.md, "Low-rank
// factors"): W: (m, n) ≈ B · A with A: (r, n) and B: (m, r), so y = x·Wᵀ runs as (x·Aᵀ)·Bᵀ. The
// factors take the whole tensor's name plus ".lr_a" / ".lr_b"; a file holds either the whole
// tensor or its pair, never both. llama.cpp does not know these names: only shrink runs them.
enum class TensorPart { kWhole, kLowRankA, kLowRankB };

// Metadata of a file with factor pairs: the storage version (kLowRankVersion) and the names of
// the factored whole tensors (an array of strings, for readers and `shrink inspect`).
inline constexpr std::string_view kLowRankVersionKey = "shrink.low_rank.version";
inline constexpr std::string_view kLowRankTensorsKey = "shrink.low_rank.tensors";
inline constexpr uint32_t kLowRankVersion = 1;

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
// The name of a part: TensorName(role, layer) for kWhole, + ".lr_a" / ".lr_b" for the factors.
std::string TensorName(TensorRole role, int layer, TensorPart part);

// The part a GGUF tensor name denotes by its suffix (".lr_a", ".lr_b", else kWhole).
TensorPart TensorPartOfName(std::string_view name);

// Whether `spec` may be stored as a low-rank factor pair: the linear rows inside the blocks
// (token_embd is a lookup table; output stays whole so tied and untied models look alike).
bool Factorable(const TensorSpec& spec);
// The ggml-order shape of a factor of rank r of a matrix of ggml shape `whole` = {n, m}:
// A: {n, r}, B: {r, m}. REQUIRES: part != kWhole, whole.size() == 2.
std::vector<int64_t> FactorShape(std::span<const int64_t> whole, TensorPart part, int64_t rank);

}  // namespace shrink
