#include "model/tensor_table.h"

#include <fmt/format.h>

#include <array>

#include "base/check.h"
#include "model/weights.h"

namespace shrink {
namespace {

using Shape = std::vector<int64_t>;

bool Always(const Config&) { return true; }
bool Untied(const Config& c) { return !c.tied_embeddings; }
bool QkNorm(const Config& c) { return c.qk_norm; }
bool PostNorms(const Config& c) { return c.post_norms; }

// Shapes in ggml order: a matrix W: (rows, cols) is {cols, rows}.
Shape Embedding(const Config& c, int) { return {c.d_model, c.vocab_size}; }
Shape ModelVector(const Config& c, int) { return {c.d_model}; }
Shape HeadVector(const Config& c, int) { return {c.head_dim}; }
Shape QueryProj(const Config& c, int l) { return {c.d_model, c.q_dim(l)}; }
Shape KeyValueProj(const Config& c, int l) { return {c.d_model, c.kv_dim(l)}; }
Shape OutputProj(const Config& c, int l) { return {c.q_dim(l), c.d_model}; }
Shape FfnIn(const Config& c, int l) { return {c.d_model, c.layers[l].ffn_dim}; }
Shape FfnOut(const Config& c, int l) { return {c.layers[l].ffn_dim, c.d_model}; }

constexpr TensorSpec Model(TensorRole role, std::string_view name, TensorView Weights::*member,
                           bool (*listed)(const Config&), Shape (*shape)(const Config&, int),
                           bool linear) {
  return {role, name, TensorScope::kModel, member, nullptr, listed, shape, linear};
}
constexpr TensorSpec Layer(TensorRole role, std::string_view name, TensorView LayerWeights::*member,
                           bool (*listed)(const Config&), Shape (*shape)(const Config&, int),
                           bool linear) {
  return {role, name, TensorScope::kLayer, nullptr, member, listed, shape, linear};
}

using R = TensorRole;
using L = LayerWeights;
using W = Weights;
// Rows in TensorRole order (SpecOf indexes by role) and in visiting order.
constexpr std::array kTable = {
    Model(R::kTokenEmbd, "token_embd", &W::token_embd, Always, Embedding, false),
    Layer(R::kAttnNorm, "attn_norm", &L::attn_norm, Always, ModelVector, false),
    Layer(R::kAttnQ, "attn_q", &L::attn_q, Always, QueryProj, true),
    Layer(R::kAttnK, "attn_k", &L::attn_k, Always, KeyValueProj, true),
    Layer(R::kAttnV, "attn_v", &L::attn_v, Always, KeyValueProj, true),
    Layer(R::kAttnQNorm, "attn_q_norm", &L::attn_q_norm, QkNorm, HeadVector, false),
    Layer(R::kAttnKNorm, "attn_k_norm", &L::attn_k_norm, QkNorm, HeadVector, false),
    Layer(R::kAttnOutput, "attn_output", &L::attn_output, Always, OutputProj, true),
    Layer(R::kAttnPostNorm, "post_attention_norm", &L::attn_post_norm, PostNorms, ModelVector,
          false),
    Layer(R::kFfnNorm, "ffn_norm", &L::ffn_norm, Always, ModelVector, false),
    Layer(R::kFfnGate, "ffn_gate", &L::ffn_gate, Always, FfnIn, true),
    Layer(R::kFfnUp, "ffn_up", &L::ffn_up, Always, FfnIn, true),
    Layer(R::kFfnDown, "ffn_down", &L::ffn_down, Always, FfnOut, true),
    Layer(R::kFfnPostNorm, "post_ffw_norm", &L::ffn_post_norm, PostNorms, ModelVector, false),
    Model(R::kOutputNorm, "output_norm", &W::output_norm, Always, ModelVector, false),
    Model(R::kOutput, "output", &W::output, Untied, Embedding, true),
};

constexpr bool RowsInRoleOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].role) != i) return false;
  }
  return true;
}
static_assert(RowsInRoleOrder(), "kTable rows must follow TensorRole's order");

}  // namespace

std::span<const TensorSpec> TensorTable() { return kTable; }

const TensorSpec& SpecOf(TensorRole role) {
  const auto i = static_cast<size_t>(role);
  SHRINK_CHECK(i < kTable.size());
  return kTable[i];
}

std::string_view TensorRoleName(TensorRole role) { return SpecOf(role).name; }

std::string TensorName(TensorRole role, int layer) {
  if (layer < 0) return fmt::format("{}.weight", TensorRoleName(role));
  return fmt::format("blk.{}.{}.weight", layer, TensorRoleName(role));
}

namespace {
constexpr std::string_view kLowRankASuffix = ".lr_a";
constexpr std::string_view kLowRankBSuffix = ".lr_b";
}  // namespace

std::string TensorName(TensorRole role, int layer, TensorPart part) {
  std::string name = TensorName(role, layer);
  if (part == TensorPart::kLowRankA) name += kLowRankASuffix;
  if (part == TensorPart::kLowRankB) name += kLowRankBSuffix;
  return name;
}

TensorPart TensorPartOfName(std::string_view name) {
  if (name.ends_with(kLowRankASuffix)) return TensorPart::kLowRankA;
  if (name.ends_with(kLowRankBSuffix)) return TensorPart::kLowRankB;
  return TensorPart::kWhole;
}

bool Factorable(const TensorSpec& spec) { return spec.linear && spec.scope == TensorScope::kLayer; }

std::vector<int64_t> FactorShape(std::span<const int64_t> whole, TensorPart part, int64_t rank) {
  SHRINK_CHECK(part != TensorPart::kWhole && whole.size() == 2);
  if (part == TensorPart::kLowRankA) return {whole[0], rank};
  return {rank, whole[1]};
}

}  // namespace shrink
