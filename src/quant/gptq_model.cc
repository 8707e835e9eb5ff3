#include "quant/gptq_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "base/check.h"
#include "calib/hessian.h"
#include "kernels/blas_threads.h"
#include "kernels/kernel_threads.h"
#include "model/prepared_model.h"
#include "model/transformer.h"

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
  // Which views GPTQ quantizes, and into which type.
  std::map<const TensorView*, const TensorPlan*> planned;
  for (const TensorPlan& t : plan.tensors) {
    if (t.source->layer < 0 || !SpecOf(t.source->role).linear || t.copied()) continue;
    if (Traits(t.type).grid == nullptr) continue;
    planned[t.source] = &t;
  }

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
    // Layer l's views, float at first, each stage's tensors swapped for their GPTQ bytes.
    Model current;
    current.config = c;
    current.weights = base.weights;
    // GPTQ on every planned tensor of `roles` in layer l, from the Hessians in `hessians`.
    auto quantize_stage = [&](std::span<const TensorRole> roles,
                              const HessianCollector& hessians) -> Status {
      for (const TensorRole role : roles) {
        const TensorSpec& spec = SpecOf(role);
        TensorView& view = model.weights.layers[l].*spec.layer_member;
        const auto it = planned.find(&view);
        if (it == planned.end()) continue;
        const TensorPlan& t = *it->second;
        const GramEntry* gram = hessians.Find(view.name);
        if (gram == nullptr) {
          return Status::Errorf("{}: the calibration pass saw no input for it", view.name);
        }
        const std::vector<double> H = GptqHessian(*gram);
        const std::vector<float> W = DecodeMatrix(view);
        std::span<const float> importance;
        if (t.importance_use == ImportanceUse::kUsed) importance = t.importance;
        GptqOptions gptq = options.gptq;
        gptq.blas_threads = options.threads;
        SHRINK_ASSIGN_OR_RETURN(
            GptqResult r,
            GptqQuantize(W, view.rows(), view.cols(), H, importance, t.type, gptq, KernelThreads())
                .WithContext(view.name));
        ++report.tensors;
        report.dead_columns += r.dead_columns;
        auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(r.rows));
        view.type = t.type;
        view.data = std::span<const uint8_t>(*bytes);
        model.weights.storage.push_back(bytes);
        current.weights.layers[l].*spec.layer_member = view;
      }
      return Status::Ok();
    };
    // One stage: collect the Hessians of `roles` with `pass` on the current weights, then GPTQ.
    auto stage = [&](std::span<const TensorRole> roles, auto pass) -> Status {
      ThreadedHessianCollector hessians(Roles(l, roles), options.threads);
      const PreparedModel prepared(current);
      pass(HalfLayer{prepared, l, n_chunk, n_ctx}, hessians);
      return quantize_stage(roles, hessians);
    };
    SHRINK_RETURN_IF_ERROR(
        stage(kQkv, [&](const HalfLayer& h, ForwardObserver& o) { h.Attention(x, nullptr, &o); }));
    SHRINK_RETURN_IF_ERROR(stage(
        kAttnOut, [&](const HalfLayer& h, ForwardObserver& o) { h.Attention(x, nullptr, &o); }));
    // From here on the attention half is final: its output `post` feeds the FFN stages.
    SHRINK_RETURN_IF_ERROR(stage(kGateUp, [&](const HalfLayer& h, ForwardObserver& o) {
      h.Attention(x, &post, nullptr);
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
