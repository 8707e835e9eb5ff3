#include "calib/sequential_layers.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "base/check.h"
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
// collected after every earlier stage is rewritten ("true sequential").
constexpr TensorRole kQkv[] = {TensorRole::kAttnQ, TensorRole::kAttnK, TensorRole::kAttnV};
constexpr TensorRole kAttnOut[] = {TensorRole::kAttnOutput};
constexpr TensorRole kGateUp[] = {TensorRole::kFfnGate, TensorRole::kFfnUp};
constexpr TensorRole kDown[] = {TensorRole::kFfnDown};

}  // namespace

Status RewriteLinearsSequentially(Model& model, std::span<const TokenId> tokens,
                                  const CalibrationPlan& cplan, const SequentialOptions& options,
                                  const RewriteLinear& rewrite) {
  const Config& c = model.config;
  const int64_t n_ctx = cplan.n_ctx, n_chunk = cplan.n_chunk, C = c.d_model;
  SHRINK_CHECK(tokens.size() >= static_cast<size_t>(n_ctx * n_chunk));
  SHRINK_CHECK(options.select != nullptr);
  for (int64_t i = 0; i < n_ctx * n_chunk; ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) {
      return Status::Errorf("calibration token {} at index {} is outside the vocabulary [0, {})",
                            tokens[i], i, c.vocab_size);
    }
  }

  SetKernelThreads(options.threads);
  // The original model's views (spans and shared storage are copied, not the weights): every
  // stage runs one layer of a copy of them in which that layer's rewritten tensors are swapped in.
  Model base;
  base.config = c;
  base.weights = model.weights;
  const PreparedModel original(base);

  // X: (n_chunk, n_ctx, C), the chunks embedded as RunCalibration feeds them.
  std::vector<float> x(static_cast<size_t>(n_chunk * n_ctx * C));
  std::vector<TokenId> chunk(static_cast<size_t>(n_ctx));
  for (int64_t k = 0; k < n_chunk; ++k) {
    std::copy_n(tokens.begin() + k * n_ctx, n_ctx, chunk.begin());
    if (options.bos >= 0) chunk[0] = options.bos;
    forward::Embed(original, chunk, x.data() + k * n_ctx * C);
  }

  std::vector<float> post(x.size());  // the residual after layer l's attention half
  for (int l = 0; l < c.n_layers; ++l) {
    // Layer l's views, original at first, each stage's tensors swapped for their new bytes.
    Model current;
    current.config = c;
    current.weights = base.weights;
    // The selected roles of `roles` in layer l.
    auto selected = [&](std::span<const TensorRole> roles) {
      std::vector<TensorRole> out;
      for (const TensorRole role : roles) {
        if (options.select(l, role)) out.push_back(role);
      }
      return out;
    };
    // `rewrite` on every selected tensor of `roles` in layer l, from the Hessians in `hessians`.
    auto rewrite_stage = [&](std::span<const TensorRole> roles,
                             const HessianCollector& hessians) -> Status {
      for (const TensorRole role : roles) {
        const TensorSpec& spec = SpecOf(role);
        TensorView& view = model.weights.layers[l].*spec.layer_member;
        if (!view.present()) continue;  // not in this model's config
        static const GramEntry kNoHessian;
        const GramEntry* gram = options.collect_hessians ? hessians.Find(view.name) : &kNoHessian;
        if (gram == nullptr) {
          return Status::Errorf("{}: the calibration pass saw no input for it", view.name);
        }
        SHRINK_ASSIGN_OR_RETURN(std::optional<RewrittenTensor> r,
                                rewrite(view, *gram).WithContext(view.name));
        if (!r.has_value()) continue;
        SHRINK_ASSIGN_OR_RETURN(const int64_t row_bytes, RowBytes(r->type, view.cols()));
        if (static_cast<int64_t>(r->bytes.size()) !=
            row_bytes * (view.element_count() / view.cols())) {
          return Status::Errorf("{}: rewritten to {} bytes, expected {} rows of {}", view.name,
                                r->bytes.size(), view.element_count() / view.cols(), row_bytes);
        }
        auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(r->bytes));
        view.type = r->type;
        view.data = std::span<const uint8_t>(*bytes);
        model.weights.storage.push_back(bytes);
        current.weights.layers[l].*spec.layer_member = view;
      }
      return Status::Ok();
    };
    // One stage: collect the Hessians of the selected `roles` with `pass` on the current weights,
    // then rewrite them; nothing when none is selected.
    auto stage = [&](std::span<const TensorRole> roles, auto pass) -> Status {
      const std::vector<TensorRole> chosen = selected(roles);
      if (chosen.empty()) return Status::Ok();
      ThreadedHessianCollector hessians(
          [l, chosen](int layer, TensorRole role) {
            return layer == l && std::find(chosen.begin(), chosen.end(), role) != chosen.end();
          },
          options.threads);
      if (options.collect_hessians) {
        const PreparedModel prepared(current);
        pass(HalfLayer{prepared, l, n_chunk, n_ctx}, hessians);
      }
      return rewrite_stage(chosen, hessians);
    };
    // The caller's hook before a half (over `in`, that half's input), then layer l's views again.
    auto before_half = [&](bool attention, const std::vector<float>& in) -> Status {
      if (!options.before_half) return Status::Ok();
      const ObserveHalf observe = [&](ForwardObserver& observer) {
        const PreparedModel prepared(current);
        const HalfLayer h{prepared, l, n_chunk, n_ctx};
        if (attention) {
          h.Attention(in, nullptr, &observer);
        } else {
          h.FeedForward(in, nullptr, &observer);
        }
      };
      SHRINK_RETURN_IF_ERROR(options.before_half(l, attention, observe));
      current.weights.layers[l] = model.weights.layers[l];
      return Status::Ok();
    };
    SHRINK_RETURN_IF_ERROR(before_half(/*attention=*/true, x));
    SHRINK_RETURN_IF_ERROR(
        stage(kQkv, [&](const HalfLayer& h, ForwardObserver& o) { h.Attention(x, nullptr, &o); }));
    SHRINK_RETURN_IF_ERROR(stage(
        kAttnOut, [&](const HalfLayer& h, ForwardObserver& o) { h.Attention(x, nullptr, &o); }));
    // From here on the attention half is final: its output `post` feeds the FFN stages.
    const PreparedModel after_attention(current);
    HalfLayer{after_attention, l, n_chunk, n_ctx}.Attention(x, &post, nullptr);
    SHRINK_RETURN_IF_ERROR(before_half(/*attention=*/false, post));
    SHRINK_RETURN_IF_ERROR(stage(kGateUp, [&](const HalfLayer& h, ForwardObserver& o) {
      h.FeedForward(post, nullptr, &o);
    }));
    SHRINK_RETURN_IF_ERROR(stage(
        kDown, [&](const HalfLayer& h, ForwardObserver& o) { h.FeedForward(post, nullptr, &o); }));
    // The next layer's input: the fully rewritten layer's output.
    const PreparedModel rewritten(current);
    HalfLayer{rewritten, l, n_chunk, n_ctx}.FeedForward(post, &x, nullptr);
    if (options.on_layer) options.on_layer(l + 1, c.n_layers);
  }
  return Status::Ok();
}

}  // namespace shrink
