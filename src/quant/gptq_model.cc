#include "quant/gptq_model.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "calib/hessian.h"
#include "calib/sequential_layers.h"
#include "kernels/blas_threads.h"
#include "kernels/kernel_threads.h"

namespace shrink {
namespace {

// W: (rows, cols) as F32, decoded from any stored type.
std::vector<float> DecodeMatrix(const TensorView& v) {
  std::vector<float> w(static_cast<size_t>(v.rows() * v.cols()));
  Traits(v.type).decode(v.data.data(), w.data(), v.rows() * v.cols());
  return w;
}

// AWQ's scale groups: the linears reading one half's normed input (scaled through the norm), and
// the one reading attention's values (per K/V channel, through attn_v's rows) or act(gate)·up
// (through ffn_up's rows).
constexpr TensorRole kAttnIn[] = {TensorRole::kAttnQ, TensorRole::kAttnK, TensorRole::kAttnV};
constexpr TensorRole kAttnOut[] = {TensorRole::kAttnOutput};
constexpr TensorRole kFfnIn[] = {TensorRole::kFfnGate, TensorRole::kFfnUp};
constexpr TensorRole kFfnOut[] = {TensorRole::kFfnDown};

using PlannedViews = std::map<const TensorView*, const TensorPlan*>;
using ImportanceOf = std::function<std::span<const float>(const TensorView&, const TensorPlan&)>;

struct AwqGroupOutcome {
  bool searched = false;      // some tensor of the group is planned
  std::vector<float> scales;  // empty: best at α = 0, left unscaled
  double loss = 0, loss_rtn = 0;
};

// SearchAwqScales over the planned tensors of `roles` in layer l, whose shared input's Gram is the
// one `grams` collected for role `observed`.
Result<AwqGroupOutcome> SearchGroup(const Model& model, int l, std::span<const TensorRole> roles,
                                    TensorRole observed, std::vector<int32_t> scale_index,
                                    const HessianCollector& grams, const PlannedViews& planned,
                                    const ImportanceOf& importance_of,
                                    const GptqModelOptions& options) {
  AwqGroupOutcome out;
  std::vector<std::vector<float>> decoded;
  std::vector<AwqMatrix> group;
  decoded.reserve(roles.size());
  for (const TensorRole role : roles) {
    const TensorView& view = model.weights.layers[l].*SpecOf(role).layer_member;
    const auto it = planned.find(&view);
    if (it == planned.end()) continue;
    decoded.push_back(DecodeMatrix(view));
    group.push_back({.w = decoded.back(),
                     .rows = view.rows(),
                     .cols = view.cols(),
                     .type = it->second->type,
                     .importance = importance_of(view, *it->second)});
  }
  if (group.empty()) return out;
  const std::string& name = (model.weights.layers[l].*SpecOf(observed).layer_member).name;
  const GramEntry* gram = grams.Find(name);
  if (gram == nullptr) return Status::Errorf("{}: the calibration pass saw no input for it", name);
  AwqSearchOptions search;
  search.alphas = options.awq_alphas;
  search.max_rows = options.awq_max_rows;
  // The search's row tiles run on the kernel pool, each with a single-threaded dsymm: with
  // OpenBLAS's own threads instead, the encoding between its calls ran on one core while its idle
  // threads spun (system time as large as the user time on a loaded machine).
  search.pool = &KernelThreads();
  ScopedBlasThreads blas(1);
  SHRINK_ASSIGN_OR_RETURN(AwqSearchResult r,
                          SearchAwqScales(group, *gram, scale_index, search).WithContext(name));
  out.searched = true;
  out.loss = r.loss;
  out.loss_rtn = r.loss_rtn;
  if (r.alpha > 0.0) out.scales = std::move(r.scales);
  return out;
}

// After folding `scales` (empty: nothing was scaled) into the columns of `roles` in layer l: each
// planned tensor's importance (when it has some) divided by s² of its column's channel.
void RescaleImportance(const Model& model, int l, std::span<const TensorRole> roles,
                       std::span<const float> scales, std::span<const int32_t> scale_index,
                       const PlannedViews& planned,
                       std::map<const TensorView*, std::vector<float>>& scaled_importance,
                       const ImportanceOf& importance_of) {
  if (scales.empty()) return;
  for (const TensorRole role : roles) {
    const TensorView& view = model.weights.layers[l].*SpecOf(role).layer_member;
    const auto it = planned.find(&view);
    if (it == planned.end()) continue;
    const std::span<const float> imp = importance_of(view, *it->second);
    if (imp.empty()) continue;
    std::vector<float> out(imp.begin(), imp.end());
    for (size_t j = 0; j < out.size(); ++j) {
      const float s = scales[scale_index.empty() ? j : scale_index[j]];
      out[j] /= s * s;
    }
    scaled_importance[&view] = std::move(out);
  }
}

}  // namespace

Result<GptqModelReport> GptqQuantizeModel(Model& model, const QuantPlan& plan,
                                          std::span<const TokenId> tokens,
                                          const CalibrationPlan& cplan,
                                          const GptqModelOptions& options) {
  if (options.fold_only && (!options.awq || options.use_gptq)) {
    return Status::Error("folding AWQ scales only (F32 output) needs --method awq, without GPTQ");
  }
  const Config& c = model.config;
  // Which views the driver quantizes, and into which type.
  PlannedViews planned;
  for (const TensorPlan& t : plan.tensors) {
    if (t.source->layer < 0 || !SpecOf(t.source->role).linear || t.copied()) continue;
    if (Traits(t.type).grid == nullptr) continue;
    planned[t.source] = &t;
  }
  auto plan_of = [&](int layer, TensorRole role) -> const TensorPlan* {
    const auto it = planned.find(&(model.weights.layers[layer].*SpecOf(role).layer_member));
    return it == planned.end() ? nullptr : it->second;
  };
  // Imatrix weights of the tensors whose inputs AWQ scaled (importance / s²); the plan's own
  // weights for the others.
  std::map<const TensorView*, std::vector<float>> scaled_importance;
  const ImportanceOf importance_of = [&](const TensorView& view, const TensorPlan& t) {
    const auto it = scaled_importance.find(&view);
    if (it != scaled_importance.end()) return std::span<const float>(it->second);
    return t.importance_use == ImportanceUse::kUsed ? t.importance : std::span<const float>();
  };

  GptqModelReport report;
  SequentialOptions seq;
  seq.threads = options.threads;
  seq.bos = options.bos;
  seq.on_layer = options.on_layer;
  seq.collect_hessians = options.use_gptq;
  seq.select = [&](int layer, TensorRole role) {
    return layer >= 0 && plan_of(layer, role) != nullptr;
  };
  if (options.awq) {
    // AWQ on one half of layer l: the Grams of its two scalable inputs from one pass of that half,
    // the scales searched and folded into model.weights (the driver re-reads the layer).
    seq.before_half = [&](int l, bool attention, const ObserveHalf& observe) -> Status {
      using RoleList = std::span<const TensorRole>;
      const RoleList roles_a = attention ? RoleList(kAttnIn) : RoleList(kFfnIn);
      const RoleList roles_b = attention ? RoleList(kAttnOut) : RoleList(kFfnOut);
      const TensorRole observed[] = {roles_a.front(), roles_b.front()};
      HessianCollector grams([l, observed](int layer, TensorRole role) {
        return layer == l && (role == observed[0] || role == observed[1]);
      });
      {
        ScopedBlasThreads blas(options.threads);  // the Gram sums; the forward uses no BLAS
        observe(grams);
      }
      const std::vector<int32_t> index_b =
          attention ? KvChannelOfQueryColumn(c, l) : std::vector<int32_t>{};
      SHRINK_ASSIGN_OR_RETURN(
          AwqGroupOutcome a,
          SearchGroup(model, l, roles_a, observed[0], {}, grams, planned, importance_of, options));
      SHRINK_ASSIGN_OR_RETURN(AwqGroupOutcome b,
                              SearchGroup(model, l, roles_b, observed[1], index_b, grams, planned,
                                          importance_of, options));
      for (const AwqGroupOutcome* g : {&a, &b}) {
        if (!g->searched) continue;
        ++report.awq_groups;
        report.awq_scaled += g->scales.empty() ? 0 : 1;
        report.awq_loss += g->loss;
        report.awq_loss_rtn += g->loss_rtn;
      }
      AwqLayerScales scales;
      (attention ? scales.attn_in : scales.ffn_in) = a.scales;
      (attention ? scales.v_out : scales.up_out) = b.scales;
      SHRINK_RETURN_IF_ERROR(FoldAwqScales(c, l, scales, model.weights));
      // The scaled tensors' inputs are x / s: their imatrix weights follow.
      RescaleImportance(model, l, roles_a, a.scales, {}, planned, scaled_importance, importance_of);
      RescaleImportance(model, l, roles_b, b.scales, index_b, planned, scaled_importance,
                        importance_of);
      return Status::Ok();
    };
  }
  // The views are found by address, so the plan's `source` pointers stay valid: the driver
  // rewrites each view in place. GPTQ from the stage's Hessian, or the type's encoder.
  const RewriteLinear quantize =
      [&](const TensorView& view, const GramEntry& gram) -> Result<std::optional<RewrittenTensor>> {
    if (options.fold_only) return std::optional<RewrittenTensor>();  // AWQ-scaled, still F32
    const TensorPlan& t = *plan_of(view.layer, view.role);
    const std::span<const float> importance = importance_of(view, t);
    std::vector<uint8_t> rows;
    if (options.use_gptq) {
      const std::vector<double> H = GptqHessian(gram);
      const std::vector<float> W = DecodeMatrix(view);
      GptqOptions g = options.gptq;
      g.blas_threads = options.threads;
      SHRINK_ASSIGN_OR_RETURN(GptqResult r, GptqQuantize(W, view.rows(), view.cols(), H, importance,
                                                         t.type, g, KernelThreads()));
      report.dead_columns += r.dead_columns;
      rows = std::move(r.rows);
    } else {
      SHRINK_ASSIGN_OR_RETURN(const int64_t row_bytes, RowBytes(t.type, view.cols()));
      rows.resize(static_cast<size_t>(view.rows() * row_bytes));
      SHRINK_RETURN_IF_ERROR(ConvertRows(Traits(view.type), view.data, Traits(t.type), rows,
                                         view.cols(), options.threads, 0, importance,
                                         options.encoding));
    }
    ++report.tensors;
    return std::optional<RewrittenTensor>(RewrittenTensor{t.type, std::move(rows)});
  };
  SHRINK_RETURN_IF_ERROR(RewriteLinearsSequentially(model, tokens, cplan, seq, quantize));
  return report;
}

}  // namespace shrink
