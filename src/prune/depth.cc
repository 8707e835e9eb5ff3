#include "prune/depth.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <numeric>
#include <string>

#include "base/check.h"

namespace shrink {
namespace {

// Keys whose value may be one per layer, named without the "<arch>." prefix.
constexpr std::string_view kSlidingPatternKey = "attention.sliding_window_pattern";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The kept layers' elements of a per-layer array.
Result<GgufArray> KeepElements(const GgufArray& array, std::span<const int> kept,
                               std::string_view key) {
  if (array.element_type() == GgufValueType::kArray) {
    return Status::Errorf("key '{}': a per-layer array of arrays cannot be subset", key);
  }
  GgufArray out(array.element_type());
  out.Reserve(kept.size());
  for (int l : kept) out.Push(array.At(static_cast<size_t>(l)));
  return out;
}

}  // namespace

Result<std::vector<int>> ParseLayerList(std::string_view text, int n_layers) {
  std::vector<int> layers;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    int v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      return Status::Errorf(
          "--layers: expected comma-separated layer indexes (e.g. 3,7), got \"{}\"", text);
    }
    if (v < 0 || v >= n_layers) {
      return Status::Errorf("--layers: layer {} does not exist; the model has {} (0..{})", v,
                            n_layers, n_layers - 1);
    }
    layers.push_back(v);
    start = comma + 1;
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

std::vector<int> LeastInfluentialLayers(std::span<const double> influence, int n) {
  SHRINK_CHECK(n >= 0 && static_cast<size_t>(n) <= influence.size());
  std::vector<int> order(influence.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return influence[a] < influence[b]; });
  order.resize(n);
  std::sort(order.begin(), order.end());
  return order;
}

Result<std::vector<int>> KeptLayers(int n_layers, std::span<const int> dropped) {
  std::vector<bool> drop(n_layers, false);
  for (int l : dropped) {
    SHRINK_CHECK(l >= 0 && l < n_layers);
    drop[l] = true;
  }
  std::vector<int> kept;
  for (int l = 0; l < n_layers; ++l) {
    if (!drop[l]) kept.push_back(l);
  }
  if (kept.empty()) {
    return Status::Errorf("dropping {} of {} layers leaves none; keep at least one", n_layers,
                          n_layers);
  }
  return kept;
}

std::vector<int> EvenlySpacedLayers(int n_layers, int n) {
  SHRINK_CHECK(1 <= n && n <= n_layers);
  if (n == 1) return {0};
  std::vector<int> out(n);
  // Integer rounding of i·(L−1)/(n−1): strictly increasing because the stride is >= 1.
  for (int i = 0; i < n; ++i) {
    out[i] = static_cast<int>((2 * static_cast<int64_t>(i) * (n_layers - 1) + (n - 1)) /
                              (2 * static_cast<int64_t>(n - 1)));
  }
  return out;
}

Config DepthPrunedConfig(const Config& config, std::span<const int> kept) {
  Config out = config;
  out.layers.clear();
  for (int l : kept) out.layers.push_back(config.layers[l]);
  out.n_layers = static_cast<int32_t>(kept.size());
  return out;
}

Result<GgufMetadata> DepthPrunedMetadata(const GgufMetadata& source, const Config& config,
                                         std::span<const int> kept) {
  const std::string arch = config.architecture + ".";
  const std::string block_count = arch + "block_count";
  const std::string sliding_key = arch + std::string(kSlidingPatternKey);
  const bool any_sliding = std::any_of(config.layers.begin(), config.layers.end(),
                                       [](const LayerConfig& l) { return l.sliding_window > 0; });
  GgufArray sliding(GgufValueType::kBool);
  for (int l : kept) sliding.Push(GgufValue::Bool(config.layers[l].sliding_window > 0));

  GgufMetadata out;
  bool wrote_sliding = false;
  for (const auto& [key, value] : source) {
    if (key == block_count) {
      // Keep the stored integer type (llama.cpp's converters write u32).
      GgufValue v = value;
      if (GgufTypeIsUnsigned(value.type)) {
        v.data = static_cast<uint64_t>(kept.size());
      } else {
        v.data = static_cast<int64_t>(kept.size());
      }
      out.emplace_back(key, std::move(v));
    } else if (key == sliding_key && any_sliding) {
      out.emplace_back(key, GgufValue::Array(sliding));
      wrote_sliding = true;
    } else if (StartsWith(key, arch) && value.type == GgufValueType::kArray &&
               value.AsArray().size() == static_cast<size_t>(config.n_layers)) {
      SHRINK_ASSIGN_OR_RETURN(GgufArray subset, KeepElements(value.AsArray(), kept, key));
      out.emplace_back(key, GgufValue::Array(std::move(subset)));
    } else {
      out.emplace_back(key, value);
    }
  }
  if (any_sliding && !wrote_sliding) out.emplace_back(sliding_key, GgufValue::Array(sliding));
  return out;
}

Result<std::unique_ptr<Model>> DepthPrunedModel(const Model& model, std::span<const int> kept) {
  const Weights& src = model.weights;
  for (const LayerWeights& layer : src.layers) {
    for (const LowRankPair& pair : layer.low_rank) {
      if (pair.listed()) {
        return Status::Errorf("{}: a low-rank factor pair; only whole linears can be selected",
                              pair.a.name);
      }
    }
  }
  auto out = std::make_unique<Model>();
  out->config = DepthPrunedConfig(model.config, kept);
  GgufMetadata source_metadata = model.metadata;
  if (source_metadata.empty()) {
    SHRINK_ASSIGN_OR_RETURN(source_metadata, ConfigGgufMetadata(model.config));
  }
  SHRINK_ASSIGN_OR_RETURN(out->metadata, DepthPrunedMetadata(source_metadata, model.config, kept));
  out->chat_template = model.chat_template;
  // The source's views with the kept layers in order, then walked in step with the output's
  // skeleton (which has the new names): every view takes its source's type and data.
  Weights selected;
  selected.token_embd = src.token_embd;
  for (int l : kept) selected.layers.push_back(src.layers[l]);
  selected.output_norm = src.output_norm;
  selected.output = src.output;
  out->weights = Weights::Skeleton(out->config);
  Weights::ForEachTensorTogether(
      [](TensorView& dst, const TensorView& from) {
        SHRINK_CHECK(dst.shape == from.shape);
        dst.type = from.type;
        dst.data = from.data;
      },
      out->weights, selected);
  out->weights.storage = src.storage;
  return out;
}

std::vector<TensorView> DepthPrunedViews(std::span<const TensorView* const> order,
                                         std::span<const int> kept,
                                         std::vector<std::string>* source_names) {
  std::vector<int> new_index;  // source layer → output layer, -1 when dropped
  for (size_t i = 0; i < kept.size(); ++i) {
    if (static_cast<size_t>(kept[i]) >= new_index.size()) new_index.resize(kept[i] + 1, -1);
    new_index[kept[i]] = static_cast<int>(i);
  }
  std::vector<TensorView> out;
  for (const TensorView* v : order) {
    TensorView copy = *v;
    if (v->layer >= 0) {
      const int to = static_cast<size_t>(v->layer) < new_index.size() ? new_index[v->layer] : -1;
      if (to < 0) continue;
      copy.layer = to;
      copy.name = TensorName(v->role, to);
    }
    out.push_back(std::move(copy));
    if (source_names != nullptr) source_names->push_back(v->name);
  }
  return out;
}

}  // namespace shrink
