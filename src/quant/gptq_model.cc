#include "quant/gptq_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "base/check.h"
#include "calib/hessian.h"
#include "kernels/blas_threads.h"
#include "kernels/kernel_threads.h"
#include "model/prepared_model.h"
#include "model/transformer.h"
#include "quant/awq.h"
#include "quant/convert_rows.h"

namespace shrink {
namespace {

// HessianCollector whose Gram sums (one dsyrk per batch) run on `threads` OpenBLAS threads: they
// happen between the forward's kernels, while the kernel pool is idle.
class ThreadedHessianCollector : public HessianCollector {
 public:
  ThreadedHessianCollector(LinearFilter filter, int threads)
      : HessianCollector(std::move(filter)), threads_(threads) {}

 protected:
  void Accumulate(std::string name, std::span<const float> x, int64_t T, int64_t C_in) override {
    ScopedBlasThreads blas(threads_);
    HessianCollector::Accumulate(std::move(name), x, T, C_in);
  }

 private:
  int threads_;
};

// The halves of layer l over every chunk (rows of n_ctx positions, C wide, in `in`):
// out = in + AttentionBlock(in) (with a fresh KV cache per chunk) or out = in + FeedForwardBlock(in).
// `out` may be null (the pass only feeds `observer`) or equal to `in` (in place).
struct HalfLayer {
  const PreparedModel& m;
  int l;
  int64_t n_chunk, n_ctx;

  void Attention(const std::vector<float>& in, std::vector<float>* out,
                 ForwardObserver* observer) const {
    Run(in, out, observer, /*attention=*/true);
  }
  void FeedForward(const std::vector<float>& in, std::vector<float>* out,
                   ForwardObserver* observer) const {
    Run(in, out, observer, /*attention=*/false);
  }

 private:
  void Run(const std::vector<float>& in, std::vector<float>* out, ForwardObserver* observer,
           bool attention) const {
    const Config& c = m.config();
    const int64_t C = c.d_model;
    KvCache cache;
    if (attention) {
      cache.k.resize(static_cast<size_t>(n_ctx * c.kv_dim(l)));
      cache.v.resize(static_cast<size_t>(n_ctx * c.kv_dim(l)));
    }
    LayerActivations acts;
    std::vector<float> rows(static_cast<size_t>(n_ctx * C));
    for (int64_t chunk = 0; chunk < n_chunk; ++chunk) {
      const float* src = in.data() + chunk * n_ctx * C;
      std::copy_n(src, n_ctx * C, rows.begin());
      acts.Resize(c, l, n_ctx, n_ctx);
      const float* delta =
          attention ? forward::AttentionBlock(m, l, rows.data(), n_ctx, 0, cache, acts, observer)
                    : forward::FeedForwardBlock(m, l, rows.data(), n_ctx, acts, observer);
      if (out == nullptr) continue;
      forward::AddResidual(delta, n_ctx, C, rows.data());
      std::copy_n(rows.begin(), n_ctx * C, out->begin() + chunk * n_ctx * C);
    }
  }
};

// The roles of a layer's linears in the order their inputs become final: a stage's Hessians are
// collected after every earlier stage is quantized ("true sequential" in the GPTQ reference code).
constexpr TensorRole kQkv[] = {TensorRole::kAttnQ, TensorRole::kAttnK, TensorRole::kAttnV};
constexpr TensorRole kAttnOut[] = {TensorRole::kAttnOutput};
constexpr TensorRole kGateUp[] = {TensorRole::kFfnGate, TensorRole::kFfnUp};
constexpr TensorRole kDown[] = {TensorRole::kFfnDown};

LinearFilter Roles(int l, std::span<const TensorRole> roles) {
  return [l, roles](int layer, TensorRole role) {
    return layer == l && std::find(roles.begin(), roles.end(), role) != roles.end();
  };
}

// W: (rows, cols) as F32, decoded from any stored type.
std::vector<float> DecodeMatrix(const TensorView& v) {
  std::vector<float> w(static_cast<size_t>(v.rows() * v.cols()));
  Traits(v.type).decode(v.data.data(), w.data(), v.rows() * v.cols());
  return w;
}

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
  ScopedBlasThreads blas(options.threads);
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
  const Config& c = model.config;
  const int64_t n_ctx = cplan.n_ctx, n_chunk = cplan.n_chunk, C = c.d_model;
  SHRINK_CHECK(tokens.size() >= static_cast<size_t>(n_ctx * n_chunk));
  for (int64_t i = 0; i < n_ctx * n_chunk; ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) {
      return Status::Errorf("calibration token {} at index {} is outside the vocabulary [0, {})",
                            tokens[i], i, c.vocab_size);
    }
  }
  // Which views the driver quantizes, and into which type.
  std::map<const TensorView*, const TensorPlan*> planned;
  for (const TensorPlan& t : plan.tensors) {
    if (t.source->layer < 0 || !SpecOf(t.source->role).linear || t.copied()) continue;
    if (Traits(t.type).grid == nullptr) continue;
    planned[t.source] = &t;
  }
  // Imatrix weights of the tensors whose inputs AWQ scaled (importance / s²); the plan's own
  // weights for the others.
  std::map<const TensorView*, std::vector<float>> scaled_importance;
  auto importance_of = [&](const TensorView& view, const TensorPlan& t) {
    const auto it = scaled_importance.find(&view);
    if (it != scaled_importance.end()) return std::span<const float>(it->second);
    return t.importance_use == ImportanceUse::kUsed ? t.importance : std::span<const float>();
  };

  SetKernelThreads(options.threads);
  // The float model's views (spans and shared storage are copied, not the weights): every stage
  // runs one layer of a copy of them in which that layer's quantized tensors are swapped in.
  Model base;
  base.config = c;
  base.weights = model.weights;
  const PreparedModel float_model(base);

  // X: (n_chunk, n_ctx, C), the chunks embedded as RunCalibration feeds them.
  std::vector<float> x(static_cast<size_t>(n_chunk * n_ctx * C));
  std::vector<TokenId> chunk(static_cast<size_t>(n_ctx));
  for (int64_t k = 0; k < n_chunk; ++k) {
    std::copy_n(tokens.begin() + k * n_ctx, n_ctx, chunk.begin());
    if (options.bos >= 0) chunk[0] = options.bos;
    forward::Embed(float_model, chunk, x.data() + k * n_ctx * C);
  }

  GptqModelReport report;
  std::vector<float> post(x.size());  // the residual after layer l's attention half
  for (int l = 0; l < c.n_layers; ++l) {
    // Layer l's views, float at first, each stage's tensors swapped for their quantized bytes.
    Model current;
    current.config = c;
    current.weights = base.weights;
    // Quantizes one planned tensor of layer l (GPTQ from the stage's Hessians, or the encoder).
    auto quantize_tensor = [&](TensorView& view, const TensorPlan& t,
                               const HessianCollector* hessians) -> Status {
      std::vector<uint8_t> rows;
      const std::span<const float> importance = importance_of(view, t);
      if (options.use_gptq) {
        const GramEntry* gram = hessians->Find(view.name);
        if (gram == nullptr) {
          return Status::Errorf("{}: the calibration pass saw no input for it", view.name);
        }
        const std::vector<double> H = GptqHessian(*gram);
        const std::vector<float> W = DecodeMatrix(view);
        GptqOptions gptq = options.gptq;
        gptq.blas_threads = options.threads;
        SHRINK_ASSIGN_OR_RETURN(
            GptqResult r,
            GptqQuantize(W, view.rows(), view.cols(), H, importance, t.type, gptq, KernelThreads())
                .WithContext(view.name));
        report.dead_columns += r.dead_columns;
        rows = std::move(r.rows);
      } else {
        SHRINK_ASSIGN_OR_RETURN(const int64_t row_bytes, RowBytes(t.type, view.cols()));
        rows.resize(static_cast<size_t>(view.rows() * row_bytes));
        SHRINK_RETURN_IF_ERROR(ConvertRows(Traits(view.type), view.data, Traits(t.type), rows,
                                           view.cols(), options.threads, 0, importance,
                                           options.encoding)
                                   .WithContext(view.name));
      }
      ++report.tensors;
      auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(rows));
      view.type = t.type;
      view.data = std::span<const uint8_t>(*bytes);
      model.weights.storage.push_back(bytes);
      return Status::Ok();
    };
    // One stage: collect the Hessians of `roles` with `pass` on the current weights (GPTQ only),
    // then quantize them and swap them into `current`.
    auto stage = [&](std::span<const TensorRole> roles, auto pass) -> Status {
      ThreadedHessianCollector hessians(Roles(l, roles), options.threads);
      if (options.use_gptq) {
        const PreparedModel prepared(current);
        pass(HalfLayer{prepared, l, n_chunk, n_ctx}, hessians);
      }
      for (const TensorRole role : roles) {
        const TensorSpec& spec = SpecOf(role);
        TensorView& view = model.weights.layers[l].*spec.layer_member;
        const auto it = planned.find(&view);
        if (it == planned.end()) continue;
        SHRINK_RETURN_IF_ERROR(quantize_tensor(view, *it->second, &hessians));
        current.weights.layers[l].*spec.layer_member = view;
      }
      return Status::Ok();
    };
    // AWQ on one half of layer l: the Grams of its two scalable inputs from one float pass of
    // that half over `in`, the scales searched and folded into model.weights (and `current`).
    auto awq_half = [&](bool attention, const std::vector<float>& in) -> Status {
      const TensorRole first = attention ? TensorRole::kAttnQ : TensorRole::kFfnGate;
      const TensorRole second = attention ? TensorRole::kAttnOutput : TensorRole::kFfnDown;
      const TensorRole observed[] = {first, second};
      ThreadedHessianCollector grams(Roles(l, observed), options.threads);
      {
        const PreparedModel prepared(current);
        const HalfLayer h{prepared, l, n_chunk, n_ctx};
        if (attention) {
          h.Attention(in, nullptr, &grams);
        } else {
          h.FeedForward(in, nullptr, &grams);
        }
      }
      // Group a: the linears reading the half's normed input; group b: the one reading the
      // attention's values (per K/V channel) or act(gate)·up.
      using RoleList = std::span<const TensorRole>;
      const RoleList roles_a = attention ? RoleList(kQkv) : RoleList(kGateUp);
      const RoleList roles_b = attention ? RoleList(kAttnOut) : RoleList(kDown);
      const std::vector<int32_t> index_b =
          attention ? KvChannelOfQueryColumn(c, l) : std::vector<int32_t>{};
      SHRINK_ASSIGN_OR_RETURN(AwqGroupOutcome a, SearchGroup(model, l, roles_a, first, {}, grams,
                                                             planned, importance_of, options));
      SHRINK_ASSIGN_OR_RETURN(
          AwqGroupOutcome b,
          SearchGroup(model, l, roles_b, second, index_b, grams, planned, importance_of, options));
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
      current.weights.layers[l] = model.weights.layers[l];
      // The scaled tensors' inputs are x / s: their imatrix weights follow.
      RescaleImportance(model, l, roles_a, a.scales, {}, planned, scaled_importance, importance_of);
      RescaleImportance(model, l, roles_b, b.scales, index_b, planned, scaled_importance,
                        importance_of);
      return Status::Ok();
    };

    if (options.awq) SHRINK_RETURN_IF_ERROR(awq_half(/*attention=*/true, x));
    SHRINK_RETURN_IF_ERROR(
        stage(kQkv, [&](const HalfLayer& h, ForwardObserver& o) { h.Attention(x, nullptr, &o); }));
    SHRINK_RETURN_IF_ERROR(stage(
        kAttnOut, [&](const HalfLayer& h, ForwardObserver& o) { h.Attention(x, nullptr, &o); }));
    // From here on the attention half is final: its output `post` feeds the FFN stages.
    {
      const PreparedModel attention_done(current);
      HalfLayer{attention_done, l, n_chunk, n_ctx}.Attention(x, &post, nullptr);
    }
    if (options.awq) SHRINK_RETURN_IF_ERROR(awq_half(/*attention=*/false, post));
    SHRINK_RETURN_IF_ERROR(stage(kGateUp, [&](const HalfLayer& h, ForwardObserver& o) {
      h.FeedForward(post, nullptr, &o);
    }));
    SHRINK_RETURN_IF_ERROR(stage(
        kDown, [&](const HalfLayer& h, ForwardObserver& o) { h.FeedForward(post, nullptr, &o); }));
    // The next layer's input: the fully quantized layer's output.
    const PreparedModel quantized(current);
    HalfLayer{quantized, l, n_chunk, n_ctx}.FeedForward(post, &x, nullptr);
    if (options.on_layer) options.on_layer(l + 1, c.n_layers);
  }
  return report;
}

}  // namespace shrink
