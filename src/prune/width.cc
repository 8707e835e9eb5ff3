#include "prune/width.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <string>

#include "base/check.h"
#include "formats/types.h"

namespace shrink {
namespace {

std::vector<int> Iota(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// The `k` indexes of highest score (ties: the lower index), ascending.
std::vector<int> TopK(std::span<const double> score, int64_t k) {
  std::vector<int> order = Iota(static_cast<int>(score.size()));
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] > score[b]; });
  order.resize(static_cast<size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// One F32 row of a stored tensor (1-D tensors are one row).
void DecodeRow(const TensorView& v, int64_t row, int64_t row_bytes, float* out) {
  Traits(v.type).decode(v.data.data() + row * row_bytes, out, v.cols());
}

// ‖W[:, i]‖₂ for every column i of a matrix W: (rows, cols).
Result<std::vector<double>> ColumnNorms(const TensorView& v) {
  SHRINK_ASSIGN_OR_RETURN(const int64_t row_bytes, RowBytes(v.type, v.cols()));
  std::vector<double> sq(v.cols(), 0.0);
  std::vector<float> row(v.cols());
  for (int64_t r = 0; r < v.rows(); ++r) {
    DecodeRow(v, r, row_bytes, row.data());
    for (int64_t i = 0; i < v.cols(); ++i) sq[i] += static_cast<double>(row[i]) * row[i];
  }
  for (double& x : sq) x = std::sqrt(x);
  return sq;
}

// Rows (or columns) of a head-major projection: head h covers [h·hd, (h+1)·hd).
std::vector<int> HeadRows(std::span<const int> heads, int hd) {
  std::vector<int> rows;
  rows.reserve(heads.size() * hd);
  for (int h : heads) {
    for (int i = 0; i < hd; ++i) rows.push_back(h * hd + i);
  }
  return rows;
}

// A per-layer integer key: scalar (stored type kept) when every layer agrees, else an i32 array.
GgufValue PerLayerValue(const GgufValue* old, const Config& c, int32_t LayerConfig::*field) {
  bool uniform = true;
  for (const LayerConfig& l : c.layers) uniform &= l.*field == c.layers[0].*field;
  if (!uniform) {
    GgufArray values(GgufValueType::kInt32);
    for (const LayerConfig& l : c.layers) values.Push(GgufValue::I32(l.*field));
    return GgufValue::Array(std::move(values));
  }
  const int32_t v = c.layers[0].*field;
  if (old != nullptr && old->type == GgufValueType::kInt32) return GgufValue::I32(v);
  return GgufValue::U32(static_cast<uint32_t>(v));
}

GgufValue SameIntType(const GgufValue& old, int64_t v) {
  GgufValue out = old;
  if (GgufTypeIsUnsigned(old.type)) {
    out.data = static_cast<uint64_t>(v);
  } else {
    out.data = v;
  }
  return out;
}

bool PerLayerWidths(const Config& c) {
  for (const LayerConfig& l : c.layers) {
    if (l.n_heads != c.layers[0].n_heads || l.n_kv_heads != c.layers[0].n_kv_heads ||
        l.ffn_dim != c.layers[0].ffn_dim) {
      return true;
    }
  }
  return false;
}

}  // namespace

WidthPlan FullWidthPlan(const Config& config) {
  WidthPlan p;
  for (const LayerConfig& l : config.layers) {
    p.ffn.push_back(Iota(l.ffn_dim));
    p.kv_heads.push_back(Iota(l.n_kv_heads));
    p.q_heads.push_back(Iota(l.n_heads));
  }
  p.hidden = Iota(config.d_model);
  return p;
}

Status CheckWidthMultiple(std::string_view flag, int64_t width, int64_t multiple,
                          std::string_view type_name) {
  if (multiple <= 1 || width % multiple == 0) return Status::Ok();
  const int64_t below = width / multiple * multiple;
  const int64_t above = below + multiple;
  if (below == 0) {
    return Status::Errorf(
        "{} {}: rows of {} are not whole {}-element blocks of {}; nearest valid: {}", flag, width,
        width, multiple, type_name, above);
  }
  return Status::Errorf(
      "{} {}: rows of {} are not whole {}-element blocks of {}; nearest valid: {} or {}", flag,
      width, width, multiple, type_name, below, above);
}

Result<UniformWidths> ResolveUniformWidths(const Config& config, UniformWidths w, int64_t multiple,
                                           std::string_view type_name) {
  auto positive = [](std::string_view flag, int64_t v, std::string_view what) -> Status {
    if (v == 0) return Status::Errorf("{} 0: every layer needs at least one {}", flag, what);
    if (v < -1) return Status::Errorf("{} {}: expected a positive width", flag, v);
    return Status::Ok();
  };
  SHRINK_RETURN_IF_ERROR(positive("--ffn", w.ffn, "FFN channel"));
  SHRINK_RETURN_IF_ERROR(positive("--heads", w.heads, "query head"));
  SHRINK_RETURN_IF_ERROR(positive("--kv-heads", w.kv_heads, "key/value head"));
  SHRINK_RETURN_IF_ERROR(positive("--hidden", w.hidden, "hidden dimension"));
  if (w.hidden > config.d_model) {
    return Status::Errorf("--hidden {}: the model's hidden width is {}", w.hidden, config.d_model);
  }
  if (w.hidden > 0) {
    SHRINK_RETURN_IF_ERROR(CheckWidthMultiple("--hidden", w.hidden, multiple, type_name));
  }
  for (int l = 0; l < config.n_layers; ++l) {
    const LayerConfig& lc = config.layers[l];
    if (w.ffn > lc.ffn_dim) {
      return Status::Errorf("--ffn {}: layer {} has {} FFN channels; keep at most that", w.ffn, l,
                            lc.ffn_dim);
    }
    if (w.heads > lc.n_heads) {
      return Status::Errorf("--heads {}: the model has {} query heads in layer {}", w.heads,
                            lc.n_heads, l);
    }
    if (w.kv_heads > lc.n_kv_heads) {
      return Status::Errorf("--kv-heads {}: the model has {} key/value heads in layer {}",
                            w.kv_heads, lc.n_kv_heads, l);
    }
  }
  if (w.ffn > 0) SHRINK_RETURN_IF_ERROR(CheckWidthMultiple("--ffn", w.ffn, multiple, type_name));
  if (w.heads > 0 || w.kv_heads > 0) {
    for (int l = 0; l < config.n_layers; ++l) {
      const LayerConfig& lc = config.layers[l];
      const int64_t group = lc.n_heads / lc.n_kv_heads;
      int64_t heads = w.heads, kv = w.kv_heads;
      if (kv < 0) {
        if (heads % group != 0) {
          return Status::Errorf(
              "--heads {}: layer {} has {} query heads per key/value head (GQA groups), and "
              "heads go in whole groups: use a multiple of {} (e.g. {}), or give --kv-heads",
              heads, l, group, group, std::max<int64_t>(group, heads / group * group));
        }
        kv = heads / group;
      } else if (heads < 0) {
        heads = kv * group;
      }
      if (heads % kv != 0) {
        return Status::Errorf(
            "--kv-heads {} does not divide --heads {}: every key/value head needs "
            "the same number of query heads",
            kv, heads);
      }
      if (heads / kv > group) {
        return Status::Errorf(
            "--heads {} with --kv-heads {}: {} query heads per group, but layer {} has {} per "
            "group",
            heads, kv, heads / kv, l, group);
      }
      if (l == 0) {
        SHRINK_RETURN_IF_ERROR(
            CheckWidthMultiple("--heads", heads * config.head_dim, multiple, type_name)
                .WithContext(fmt::format("{} heads of {}", heads, config.head_dim)));
        w.heads = heads;
        w.kv_heads = kv;
      } else if (heads != w.heads || kv != w.kv_heads) {
        return Status::Errorf("--heads/--kv-heads: layers 0 and {} differ in group size", l);
      }
    }
  }
  return w;
}

WidthPlan UniformWidthPlan(const Config& config, const WidthScores& scores,
                           const UniformWidths& w) {
  WidthPlan p = FullWidthPlan(config);
  for (int l = 0; l < config.n_layers; ++l) {
    const LayerConfig& lc = config.layers[l];
    if (w.ffn > 0) p.ffn[l] = TopK(scores.ffn_channel[l], w.ffn);
    if (w.kv_heads > 0) {
      const int group = lc.n_heads / lc.n_kv_heads;
      std::vector<double> group_score(lc.n_kv_heads, 0.0);
      for (int h = 0; h < lc.n_heads; ++h) group_score[h / group] += scores.head[l][h];
      p.kv_heads[l] = TopK(group_score, w.kv_heads);
      p.q_heads[l].clear();
      const int64_t per_group = w.heads / w.kv_heads;
      for (int g : p.kv_heads[l]) {
        const std::span<const double> in_group(scores.head[l].data() + g * group, group);
        for (int i : TopK(in_group, per_group)) p.q_heads[l].push_back(g * group + i);
      }
    }
  }
  if (w.hidden > 0) p.hidden = TopK(scores.hidden, w.hidden);
  return p;
}

Result<WidthScores> WeightWidthScores(const Model& model) {
  const Config& c = model.config;
  const Weights& w = model.weights;
  WidthScores s;
  s.hidden.assign(c.d_model, 0.0);
  std::vector<float> g(c.d_model);
  auto add_norm = [&](const TensorView& v) {
    if (!v.listed()) return;
    Traits(v.type).decode(v.data.data(), g.data(), c.d_model);
    for (int i = 0; i < c.d_model; ++i) s.hidden[i] += std::fabs(g[i]);
  };
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    if (!lw.ffn_down.present() || !lw.attn_output.present()) {
      return Status::Errorf("layer {}: ffn_down or attn_output is not a whole stored matrix", l);
    }
    SHRINK_ASSIGN_OR_RETURN(std::vector<double> down, ColumnNorms(lw.ffn_down));
    s.ffn_channel.push_back(std::move(down));
    SHRINK_ASSIGN_OR_RETURN(std::vector<double> o, ColumnNorms(lw.attn_output));
    std::vector<double> head(c.layers[l].n_heads, 0.0);
    for (size_t i = 0; i < o.size(); ++i) head[i / c.head_dim] += o[i] * o[i];
    for (double& h : head) h = std::sqrt(h);
    s.head.push_back(std::move(head));
    s.attn_column.push_back(std::move(o));
    for (const TensorView* v :
         {&lw.attn_norm, &lw.attn_post_norm, &lw.ffn_norm, &lw.ffn_post_norm}) {
      add_norm(*v);
    }
  }
  add_norm(w.output_norm);
  return s;
}

int64_t ParamCount(const Config& config) {
  int64_t n = 0;
  Weights::Skeleton(config).ForEachTensor([&](const TensorView& t) { n += t.element_count(); });
  return n;
}

int64_t BudgetFloorParams(const Config& config, int64_t hidden, int64_t ffn_multiple) {
  Config c = config;
  c.d_model = static_cast<int32_t>(hidden);
  for (LayerConfig& l : c.layers) {
    l.ffn_dim = static_cast<int32_t>(std::min<int64_t>(l.ffn_dim, ffn_multiple));
    l.n_heads /= l.n_kv_heads;
    l.n_kv_heads = 1;
  }
  return ParamCount(c);
}

Config WidthPrunedConfig(const Config& config, const WidthPlan& plan) {
  Config out = config;
  out.d_model = static_cast<int32_t>(plan.hidden.size());
  for (int l = 0; l < config.n_layers; ++l) {
    out.layers[l].ffn_dim = static_cast<int32_t>(plan.ffn[l].size());
    out.layers[l].n_heads = static_cast<int32_t>(plan.q_heads[l].size());
    out.layers[l].n_kv_heads = static_cast<int32_t>(plan.kv_heads[l].size());
  }
  out.n_heads = out.layers[0].n_heads;
  out.n_kv_heads = out.layers[0].n_kv_heads;
  out.ffn_dim = out.layers[0].ffn_dim;
  // Gemma scales embeddings by √d_model from the file's embedding_length (llama.cpp too), so the
  // pruned model gets the new width's scale: the one both runtimes will apply.
  if (config.embedding_scale != 1.0f) {
    out.embedding_scale = std::sqrt(static_cast<float>(out.d_model));
  }
  return out;
}

Result<WidthPlan> BudgetWidthPlan(const Model& model, const WidthScores& scores,
                                  const WidthPlan& start, int64_t target_params,
                                  int64_t ffn_multiple) {
  const Config& c = model.config;
  SHRINK_CHECK(ffn_multiple >= 1);
  const int64_t C = static_cast<int64_t>(start.hidden.size());
  const int hd = c.head_dim;
  struct Unit {
    double priority;  // score per parameter
    int layer;
    bool ffn;
    std::vector<int> members;  // FFN channels, or the KV head
    int64_t params;
  };
  std::vector<Unit> units;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerConfig& lc = c.layers[l];
    // FFN channels: mean |h_j| · ‖W_down[:, j]‖.
    SHRINK_ASSIGN_OR_RETURN(const std::vector<double> down_norm,
                            ColumnNorms(model.weights.layers[l].ffn_down));
    // Relative to the residual stream the block adds to: what the next RMSNorm sees changes with
    // the ratio, and the stream grows with depth, so raw magnitudes would strip early layers first.
    const double stream =
        l < static_cast<int>(scores.residual_norm.size()) && scores.residual_norm[l] > 0
            ? scores.residual_norm[l]
            : 1.0;
    std::vector<double> ffn_score(lc.ffn_dim);
    for (int j = 0; j < lc.ffn_dim; ++j) {
      ffn_score[j] = scores.ffn_channel[l][j] * down_norm[j] / stream;
    }
    std::vector<int> order = Iota(lc.ffn_dim);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return ffn_score[a] < ffn_score[b]; });
    int64_t first = lc.ffn_dim % ffn_multiple;
    if (first == 0) first = ffn_multiple;
    for (int64_t begin = 0; begin + first <= lc.ffn_dim - ffn_multiple;) {
      const int64_t end = begin + first;
      Unit u{0.0, l, true, {}, 3 * C * (end - begin)};
      double sum = 0;
      for (int64_t k = begin; k < end; ++k) {
        u.members.push_back(order[k]);
        sum += ffn_score[order[k]];
      }
      u.priority = sum / static_cast<double>(u.params);
      units.push_back(std::move(u));
      begin = end;
      first = ffn_multiple;
    }
    // KV groups: Σ over the group's attn_output columns of mean |a_i| · ‖W_o[:, i]‖.
    SHRINK_ASSIGN_OR_RETURN(const std::vector<double> o_norm,
                            ColumnNorms(model.weights.layers[l].attn_output));
    const int group = lc.n_heads / lc.n_kv_heads;
    std::vector<double> group_score(lc.n_kv_heads, 0.0);
    for (int i = 0; i < lc.n_heads * hd; ++i) {
      group_score[i / hd / group] += scores.attn_column[l][i] * o_norm[i] / stream;
    }
    std::vector<int> groups = Iota(lc.n_kv_heads);
    std::stable_sort(groups.begin(), groups.end(),
                     [&](int a, int b) { return group_score[a] < group_score[b]; });
    const int64_t group_params = (2 * group + 2) * int64_t{hd} * C;
    for (int k = 0; k + 1 < lc.n_kv_heads; ++k) {
      units.push_back({group_score[groups[k]] / static_cast<double>(group_params),
                       l,
                       false,
                       {groups[k]},
                       group_params});
    }
  }
  std::stable_sort(units.begin(), units.end(),
                   [](const Unit& a, const Unit& b) { return a.priority < b.priority; });

  Config start_config = WidthPrunedConfig(c, start);
  int64_t params = ParamCount(start_config);
  std::vector<std::vector<bool>> drop_ffn(c.n_layers), drop_kv(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    drop_ffn[l].assign(c.layers[l].ffn_dim, false);
    drop_kv[l].assign(c.layers[l].n_kv_heads, false);
  }
  for (const Unit& u : units) {
    if (params <= target_params) break;
    for (int m : u.members) (u.ffn ? drop_ffn : drop_kv)[u.layer][m] = true;
    params -= u.params;
  }
  if (params > target_params) {
    return Status::Errorf(
        "--target-params {}: keeping one {}-channel FFN chunk and one key/value group per layer "
        "leaves {} parameters; that is the smallest this width pruning reaches",
        target_params, ffn_multiple, params);
  }
  WidthPlan p = start;
  for (int l = 0; l < c.n_layers; ++l) {
    p.ffn[l].clear();
    for (int j = 0; j < c.layers[l].ffn_dim; ++j) {
      if (!drop_ffn[l][j]) p.ffn[l].push_back(j);
    }
    const int group = c.layers[l].n_heads / c.layers[l].n_kv_heads;
    p.kv_heads[l].clear();
    p.q_heads[l].clear();
    for (int g = 0; g < c.layers[l].n_kv_heads; ++g) {
      if (drop_kv[l][g]) continue;
      p.kv_heads[l].push_back(g);
      for (int i = 0; i < group; ++i) p.q_heads[l].push_back(g * group + i);
    }
  }
  return p;
}

Result<GgufMetadata> WidthPrunedMetadata(const GgufMetadata& source, const Config& source_config,
                                         const Config& pruned) {
  const bool per_layer = PerLayerWidths(pruned);
  std::string arch = source_config.architecture;
  if (per_layer && arch != "llama" && arch != "deci") {
    return Status::Errorf(
        "per-layer widths: llama.cpp's {} loader takes one head count and FFN width for every "
        "layer; give uniform --ffn/--heads/--kv-heads for this model",
        arch);
  }
  const std::string old_prefix = arch + ".";
  const std::string new_arch = per_layer ? std::string("deci") : arch;
  const std::string a = new_arch + ".";
  auto find = [&](std::string_view suffix) -> const GgufValue* {
    for (const auto& [key, value] : source) {
      if (key.size() == old_prefix.size() + suffix.size() && StartsWith(key, old_prefix) &&
          std::string_view(key).substr(old_prefix.size()) == suffix) {
        return &value;
      }
    }
    return nullptr;
  };
  GgufMetadata out;
  bool wrote_key_length = false, wrote_value_length = false;
  for (const auto& [key, value] : source) {
    if (key == "general.architecture") {
      out.emplace_back(key, GgufValue::String(new_arch));
      continue;
    }
    if (!StartsWith(key, old_prefix)) {
      out.emplace_back(key, value);
      continue;
    }
    const std::string_view suffix = std::string_view(key).substr(old_prefix.size());
    const std::string new_key = a + std::string(suffix);
    if (suffix == "embedding_length") {
      out.emplace_back(new_key, SameIntType(value, pruned.d_model));
    } else if (suffix == "feed_forward_length") {
      out.emplace_back(new_key, PerLayerValue(&value, pruned, &LayerConfig::ffn_dim));
    } else if (suffix == "attention.head_count") {
      out.emplace_back(new_key, PerLayerValue(&value, pruned, &LayerConfig::n_heads));
    } else if (suffix == "attention.head_count_kv") {
      out.emplace_back(new_key, PerLayerValue(&value, pruned, &LayerConfig::n_kv_heads));
    } else if (suffix == "attention.key_length") {
      out.emplace_back(new_key, SameIntType(value, pruned.head_dim));
      wrote_key_length = true;
    } else if (suffix == "attention.value_length") {
      out.emplace_back(new_key, SameIntType(value, pruned.head_dim));
      wrote_value_length = true;
    } else {
      out.emplace_back(new_key, value);
    }
  }
  if (find("attention.head_count_kv") == nullptr) {
    out.emplace_back(a + "attention.head_count_kv",
                     PerLayerValue(nullptr, pruned, &LayerConfig::n_kv_heads));
  }
  // Both loaders default head_dim to embedding_length / head_count (of layer 0), which a pruned
  // width no longer gives: state it.
  if (!wrote_key_length) {
    out.emplace_back(a + "attention.key_length", GgufValue::U32(pruned.head_dim));
  }
  if (!wrote_value_length) {
    out.emplace_back(a + "attention.value_length", GgufValue::U32(pruned.head_dim));
  }
  return out;
}

Result<std::unique_ptr<Model>> WidthPrunedModel(const Model& model, const WidthPlan& plan) {
  const Config& c = model.config;
  SHRINK_CHECK(plan.ffn.size() == static_cast<size_t>(c.n_layers));
  auto out = std::make_unique<Model>();
  out->config = WidthPrunedConfig(c, plan);
  SHRINK_RETURN_IF_ERROR(out->config.Validate().WithContext("width-pruned config"));
  GgufMetadata source_metadata = model.metadata;
  if (source_metadata.empty()) {
    SHRINK_ASSIGN_OR_RETURN(source_metadata, ConfigGgufMetadata(c));
  }
  SHRINK_ASSIGN_OR_RETURN(out->metadata, WidthPrunedMetadata(source_metadata, c, out->config));
  out->chat_template = model.chat_template;
  out->weights = Weights::Skeleton(out->config);
  Status status = Status::Ok();
  Weights::ForEachTensorTogether(
      [&](TensorView& dst, const TensorView& src) {
        if (!status.ok()) return;
        const int l = src.layer;
        // Which source rows and columns make the output tensor (empty: all).
        std::vector<int> rows, cols;
        switch (src.role) {
          case TensorRole::kTokenEmbd:
          case TensorRole::kOutput:
            cols = plan.hidden;
            break;
          case TensorRole::kAttnNorm:
          case TensorRole::kAttnPostNorm:
          case TensorRole::kFfnNorm:
          case TensorRole::kFfnPostNorm:
          case TensorRole::kOutputNorm:
            cols = plan.hidden;
            break;
          case TensorRole::kAttnQ:
            rows = HeadRows(plan.q_heads[l], c.head_dim);
            cols = plan.hidden;
            break;
          case TensorRole::kAttnK:
          case TensorRole::kAttnV:
            rows = HeadRows(plan.kv_heads[l], c.head_dim);
            cols = plan.hidden;
            break;
          case TensorRole::kAttnQNorm:
          case TensorRole::kAttnKNorm:
            break;
          case TensorRole::kAttnOutput:
            rows = plan.hidden;
            cols = HeadRows(plan.q_heads[l], c.head_dim);
            break;
          case TensorRole::kFfnGate:
          case TensorRole::kFfnUp:
            rows = plan.ffn[l];
            cols = plan.hidden;
            break;
          case TensorRole::kFfnDown:
            rows = plan.hidden;
            cols = plan.ffn[l];
            break;
        }
        const int64_t src_rows = src.rows();
        const int64_t src_cols = src.cols();
        const int64_t out_rows = rows.empty() ? src_rows : static_cast<int64_t>(rows.size());
        const int64_t out_cols = cols.empty() ? src_cols : static_cast<int64_t>(cols.size());
        SHRINK_CHECK(out_rows * out_cols == dst.element_count());
        Result<int64_t> row_bytes = RowBytes(src.type, src_cols);
        if (!row_bytes.ok()) {
          status = row_bytes.status().WithContext(src.name);
          return;
        }
        auto buffer =
            std::make_shared<std::vector<float>>(static_cast<size_t>(out_rows * out_cols));
        std::vector<float> row(src_cols);
        for (int64_t r = 0; r < out_rows; ++r) {
          const int64_t from = rows.empty() ? r : rows[r];
          DecodeRow(src, from, *row_bytes, row.data());
          float* to = buffer->data() + r * out_cols;
          if (cols.empty()) {
            std::copy(row.begin(), row.end(), to);
          } else {
            for (int64_t k = 0; k < out_cols; ++k) to[k] = row[cols[k]];
          }
        }
        dst.type = TensorType::kF32;
        dst.data = {reinterpret_cast<const uint8_t*>(buffer->data()),
                    buffer->size() * sizeof(float)};
        out->weights.storage.push_back(buffer);
      },
      out->weights, model.weights);
  SHRINK_RETURN_IF_ERROR(status);
  return out;
}

}  // namespace shrink
