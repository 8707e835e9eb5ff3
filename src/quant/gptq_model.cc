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

// Runs layer l of `m` on every chunk's residual rows in `x` (n_chunk·n_ctx rows of C), in place
// when `update`, else on a copy (only the observer sees the pass).
void RunLayer(const PreparedModel& m, int l, int64_t n_chunk, int64_t n_ctx, std::vector<float>& x,
              bool update, ForwardObserver* observer) {
  const Config& c = m.config();
  const int64_t C = c.d_model;
  KvCache cache;
  cache.k.resize(static_cast<size_t>(n_ctx * c.kv_dim(l)));
  cache.v.resize(static_cast<size_t>(n_ctx * c.kv_dim(l)));
  LayerActivations acts;
  std::vector<float> scratch;
  for (int64_t chunk = 0; chunk < n_chunk; ++chunk) {
    float* rows = x.data() + chunk * n_ctx * C;
    if (!update) {
      scratch.assign(rows, rows + n_ctx * C);
      rows = scratch.data();
    }
    acts.Resize(c, l, n_ctx, n_ctx);
    const float* attn = forward::AttentionBlock(m, l, rows, n_ctx, 0, cache, acts, observer);
    forward::AddResidual(attn, n_ctx, C, rows);
    const float* ffn = forward::FeedForwardBlock(m, l, rows, n_ctx, acts, observer);
    forward::AddResidual(ffn, n_ctx, C, rows);
  }
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
  // The float model: every pass runs one layer of it, with that layer swapped for its quantized
  // tensors in pass 3. Views are copied (spans and shared storage), not the weights.
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
  for (int l = 0; l < c.n_layers; ++l) {
    ThreadedHessianCollector hessians([l](int layer, TensorRole) { return layer == l; },
                                      options.threads);
    RunLayer(float_model, l, n_chunk, n_ctx, x, /*update=*/false, &hessians);

    Model quantized;
    quantized.config = c;
    quantized.weights = base.weights;
    for (const TensorSpec& spec : TensorTable()) {
      if (spec.scope != TensorScope::kLayer || !spec.linear) continue;
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
      SHRINK_ASSIGN_OR_RETURN(GptqResult r, GptqQuantize(W, view.rows(), view.cols(), H, importance,
                                                         t.type, gptq, KernelThreads())
                                                .WithContext(view.name));
      ++report.tensors;
      report.dead_columns += r.dead_columns;
      auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(r.rows));
      view.type = t.type;
      view.data = std::span<const uint8_t>(*bytes);
      model.weights.storage.push_back(bytes);
      quantized.weights.layers[l].*spec.layer_member = view;
    }
    const PreparedModel quantized_model(quantized);
    RunLayer(quantized_model, l, n_chunk, n_ctx, x, /*update=*/true, nullptr);
    if (options.on_layer) options.on_layer(l + 1, c.n_layers);
  }
  return report;
}

}  // namespace shrink
