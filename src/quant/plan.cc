#include "quant/plan.h"

#include <fmt/format.h>

#include <map>
#include <string_view>

#include "base/check.h"
#include "quant/fallback.h"

namespace shrink {
namespace {

uint64_t TensorBytes(TensorType type, const std::vector<int64_t>& shape) {
  Result<int64_t> row = RowBytes(type, shape[0]);
  SHRINK_CHECK(row.ok());  // FallbackForRow only returns types whose block divides the row
  uint64_t bytes = static_cast<uint64_t>(*row);
  for (size_t i = 1; i < shape.size(); ++i) bytes *= static_cast<uint64_t>(shape[i]);
  return bytes;
}

bool IsOutputMatrix(const TensorView& t, const Config& config) {
  return t.role == TensorRole::kOutput ||
         (t.role == TensorRole::kTokenEmbd && config.tied_embeddings);
}

// llama.cpp's n_gqa(): query heads per K/V head, of layer 0.
int32_t GqaRatio(const Config& config) {
  const LayerConfig& l0 = config.layers.empty() ? LayerConfig{} : config.layers[0];
  const int32_t heads = l0.n_heads > 0 ? l0.n_heads : config.n_heads;
  const int32_t kv = l0.n_kv_heads > 0 ? l0.n_kv_heads : config.n_kv_heads;
  return kv > 0 ? heads / kv : 0;
}

}  // namespace

uint64_t QuantPlan::tensor_bytes() const {
  uint64_t total = 0;
  for (const TensorPlan& t : tensors) total += t.bytes;
  return total;
}

bool RuleMatches(const QuantRule& rule, const TensorView& tensor, const Config& config,
                 TensorType base, bool with_imatrix) {
  if (!rule.roles.Has(tensor.role)) return false;
  if (!rule.layers.Selects(tensor.layer, config.n_layers)) return false;
  if (rule.when.output_matrix && !IsOutputMatrix(tensor, config)) return false;
  if (rule.when.min_gqa > 0 && GqaRatio(config) < rule.when.min_gqa) return false;
  if (rule.when.row_misfits_base && tensor.cols() % Traits(base).block_elements == 0) return false;
  if (rule.when.imatrix == ImatrixNeed::kWith && !with_imatrix) return false;
  if (rule.when.imatrix == ImatrixNeed::kWithout && with_imatrix) return false;
  return true;
}

QuantPlan PlanQuantization(const Config& config, std::span<const TensorView* const> tensors,
                           const QuantMix& mix, bool pure, bool with_imatrix) {
  QuantPlan plan;
  plan.mix = &mix;
  plan.pure = pure;
  plan.with_imatrix = with_imatrix;
  plan.n_layers = config.n_layers;
  plan.tensors.reserve(tensors.size());
  for (const TensorView* t : tensors) {
    SHRINK_CHECK(t != nullptr && t->listed() && !t->shape.empty());
    TensorPlan p;
    p.source = t;
    if (t->shape.size() == 1) {
      p.rule = TensorPlan::kVector;
      p.chosen = TensorType::kF32;
    } else {
      p.chosen = mix.base;
      if (!pure) {
        for (size_t i = 0; i < mix.rules.size(); ++i) {
          if (RuleMatches(mix.rules[i], *t, config, mix.base, with_imatrix)) {
            p.rule = static_cast<int32_t>(i);
            p.chosen = mix.rules[i].type;
            break;
          }
        }
      }
    }
    const TypeFallback fb = FallbackForRow(p.chosen, t->cols());
    p.type = fb.type;
    p.fell_back = fb.fell_back;
    p.bytes = TensorBytes(p.type, t->shape);
    plan.tensors.push_back(p);
  }
  return plan;
}

Result<std::vector<const TensorView*>> TensorsInOrder(const Weights& weights,
                                                      std::span<const std::string> names) {
  std::map<std::string_view, const TensorView*> by_name;
  weights.ForEachTensor([&](const TensorView& t) { by_name[t.name] = &t; });
  std::vector<const TensorView*> out;
  out.reserve(names.size());
  for (const std::string& name : names) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      return Status::Errorf(
          "tensor '{}' is not one of the model's tensors (shrink's tensor table does not list it), "
          "so the quantized file would lack it",
          name);
    }
    if (it->second == nullptr) return Status::Errorf("tensor '{}' is listed twice", name);
    out.push_back(it->second);
    it->second = nullptr;
  }
  for (const auto& [name, view] : by_name) {
    if (view != nullptr) return Status::Errorf("the tensor order lacks tensor '{}'", name);
  }
  return out;
}

std::vector<const TensorView*> TensorsInTableOrder(const Weights& weights) {
  std::vector<const TensorView*> out;
  weights.ForEachTensor([&](const TensorView& t) { out.push_back(&t); });
  return out;
}

Status OverrideTensorType(QuantPlan& plan, std::string_view name, TensorType type) {
  for (TensorPlan& t : plan.tensors) {
    if (t.source->name != name) continue;
    if (t.source->shape.size() < 2) {
      return Status::Errorf("--tensor-type {}={}: '{}' is a 1-D tensor (norms stay F32)", name,
                            Traits(type).name, name);
    }
    if (t.source->cols() % Traits(type).block_elements != 0) {
      return Status::Errorf(
          "--tensor-type {}={}: rows of {} are not a multiple of {}'s {}-element block", name,
          Traits(type).name, t.source->cols(), Traits(type).name, Traits(type).block_elements);
    }
    t.rule = TensorPlan::kOverride;
    t.chosen = t.type = type;
    t.fell_back = false;
    t.proxy_loss = -1.0;
    t.bytes = TensorBytes(type, t.source->shape);
    return Status::Ok();
  }
  return Status::Errorf("--tensor-type {}={}: the model has no tensor '{}'", name,
                        Traits(type).name, name);
}

Status CheckEncodable(const QuantPlan& plan) {
  const TensorPlan* first = nullptr;
  int more = 0;
  for (const TensorPlan& t : plan.tensors) {
    if (t.copied() || Traits(t.type).encode != nullptr) continue;
    if (first == nullptr) {
      first = &t;
    } else {
      ++more;
    }
  }
  if (first == nullptr) return Status::Ok();
  std::string with_encoder;
  for (const TypeTraits& row : AllTypes()) {
    if (row.encode == nullptr) continue;
    if (!with_encoder.empty()) with_encoder += ", ";
    with_encoder += row.name;
  }
  return Status::Errorf(
      "tensor '{}': shrink has no {} encoder yet (types with encoders: {}){}; --dry-run --explain "
      "prints the plan without writing",
      first->source->name, Traits(first->type).name, with_encoder,
      more > 0 ? fmt::format("; {} more tensors need an encoder shrink lacks", more) : "");
}

}  // namespace shrink
