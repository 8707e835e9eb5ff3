#include "quant/awq.h"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "base/check.h"

namespace shrink {
namespace {

// Replaces `t`'s data by an owned F32 copy (decoded from any stored type) and returns it.
Result<std::span<float>> OwnedF32(TensorView& t, Weights& weights) {
  if (!t.listed() || !t.present()) {
    return Status::Errorf("AWQ fold: tensor '{}' is missing", t.name);
  }
  auto buffer = std::make_shared<std::vector<float>>(static_cast<size_t>(t.element_count()));
  SHRINK_ASSIGN_OR_RETURN(const int64_t row_bytes, RowBytes(t.type, t.cols()));
  const TypeTraits& from = Traits(t.type);
  for (int64_t r = 0; r < t.element_count() / t.cols(); ++r) {
    from.decode(t.data.data() + r * row_bytes, buffer->data() + r * t.cols(), t.cols());
  }
  t.type = TensorType::kF32;
  t.data = {reinterpret_cast<const uint8_t*>(buffer->data()), buffer->size() * sizeof(float)};
  weights.storage.push_back(buffer);
  return std::span<float>(*buffer);
}

Status CheckScales(std::span<const float> s, size_t expected, const char* what) {
  if (s.size() != expected) {
    return Status::Errorf("AWQ fold: {} has {} scales, expected {}", what, s.size(), expected);
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (!(std::isfinite(s[i]) && s[i] > 0.0f)) {
      return Status::Errorf("AWQ fold: {} scale {} is {}, expected finite and > 0", what, i, s[i]);
    }
  }
  return Status::Ok();
}

// Columns of a (rows × cols) row-major matrix × s.
Status ScaleColumns(TensorView& t, std::span<const float> s, Weights& weights) {
  SHRINK_ASSIGN_OR_RETURN(std::span<float> w, OwnedF32(t, weights));
  const int64_t cols = t.cols();
  SHRINK_CHECK(static_cast<int64_t>(s.size()) == cols);
  for (size_t i = 0; i < w.size(); ++i) w[i] *= s[i % cols];
  return Status::Ok();
}

// Rows (or the elements of a vector) × 1/s.
Status DivideRows(TensorView& t, std::span<const float> s, Weights& weights) {
  SHRINK_ASSIGN_OR_RETURN(std::span<float> w, OwnedF32(t, weights));
  const int64_t cols = t.shape.size() < 2 ? 1 : t.cols();
  SHRINK_CHECK(static_cast<int64_t>(s.size()) * cols == static_cast<int64_t>(w.size()));
  for (size_t i = 0; i < w.size(); ++i) w[i] /= s[i / cols];
  return Status::Ok();
}

}  // namespace

std::vector<double> AwqSearchOptions::DefaultAlphaGrid(int steps) {
  std::vector<double> out;
  for (int i = 0; i <= steps; ++i) out.push_back(static_cast<double>(i) / steps);
  return out;
}

double ScaledQuantError(const AwqMatrix& m, std::span<const float> s,
                        std::span<const int32_t> scale_index, const GramEntry& gram,
                        TensorType type, ThreadPool* pool) {
  const TypeTraits& t = Traits(type);
  SHRINK_CHECK(t.encode != nullptr && m.cols % t.block_elements == 0 && gram.cols == m.cols &&
               gram.rows > 0);
  SHRINK_CHECK(m.importance.empty() || (t.encode_weighted != nullptr &&
                                        static_cast<int64_t>(m.importance.size()) == m.cols));
  const int64_t n = m.cols;
  std::vector<float> col_scale(n), importance;
  for (int64_t j = 0; j < n; ++j) col_scale[j] = s[scale_index.empty() ? j : scale_index[j]];
  if (!m.importance.empty()) {
    // The scaled matrix's input is x / s: its mean square per column is importance / s².
    importance.resize(n);
    for (int64_t j = 0; j < n; ++j) importance[j] = m.importance[j] / (col_scale[j] * col_scale[j]);
  }
  // ΔW in tiles of rows, then Σ ΔW ⊙ (ΔW·G): one dsymm per tile instead of a scalar quadratic form
  // per row (the search evaluates every matrix of a layer once per α).
  constexpr int64_t kTileRows = 64;
  struct Scratch {
    std::vector<float> scaled, decoded;
    std::vector<uint8_t> blocks;
    std::vector<double> d, dg;
  };
  auto make_scratch = [&] {
    return Scratch{
        .scaled = std::vector<float>(n),
        .decoded = std::vector<float>(n),
        .blocks = std::vector<uint8_t>(static_cast<size_t>(n / t.block_elements) * t.block_bytes),
        .d = std::vector<double>(static_cast<size_t>(kTileRows * n)),
        .dg = std::vector<double>(static_cast<size_t>(kTileRows * n))};
  };
  const int64_t n_tiles = (m.rows + kTileRows - 1) / kTileRows;
  std::vector<double> tile_sum(static_cast<size_t>(n_tiles), 0.0);
  auto run_tile = [&](int64_t tile, Scratch& x) {
    const int64_t r0 = tile * kTileRows;
    const int64_t R = std::min(kTileRows, m.rows - r0);
    for (int64_t r = 0; r < R; ++r) {
      const float* w = m.w.data() + (r0 + r) * n;
      for (int64_t j = 0; j < n; ++j) x.scaled[j] = w[j] * col_scale[j];
      if (importance.empty()) {
        t.encode(x.scaled.data(), x.blocks.data(), n);
      } else {
        t.encode_weighted(x.scaled.data(), x.blocks.data(), n, importance.data());
      }
      t.decode(x.blocks.data(), x.decoded.data(), n);
      double* dr = x.d.data() + r * n;
      for (int64_t j = 0; j < n; ++j) {
        dr[j] = static_cast<double>(x.decoded[j]) / col_scale[j] - static_cast<double>(w[j]);
      }
    }
    cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, static_cast<int>(R), static_cast<int>(n),
                1.0, gram.xtx.data(), static_cast<int>(n), x.d.data(), static_cast<int>(n), 0.0,
                x.dg.data(), static_cast<int>(n));
    double sum = 0.0;
    for (int64_t i = 0; i < R * n; ++i) sum += x.d[i] * x.dg[i];
    tile_sum[tile] = sum;
  };
  if (pool == nullptr || pool->threads() == 1 || n_tiles == 1) {
    Scratch x = make_scratch();
    for (int64_t tile = 0; tile < n_tiles; ++tile) run_tile(tile, x);
  } else {
    std::vector<Scratch> scratch;
    for (int i = 0; i < pool->threads(); ++i) scratch.push_back(make_scratch());
    pool->Run(n_tiles, 1, [&](int64_t begin, int64_t end, int thread) {
      for (int64_t tile = begin; tile < end; ++tile) run_tile(tile, scratch[thread]);
    });
  }
  double total = 0.0;
  for (const double v : tile_sum) total += v;
  return total / static_cast<double>(gram.rows);
}

Result<AwqSearchResult> SearchAwqScales(std::span<const AwqMatrix> group, const GramEntry& gram,
                                        std::span<const int32_t> scale_index,
                                        const AwqSearchOptions& options) {
  if (group.empty()) return Status::Error("AWQ search: empty group");
  const int64_t cols = group[0].cols;
  for (const AwqMatrix& m : group) {
    const TypeTraits& type = Traits(m.type.value_or(options.type));
    if (type.encode == nullptr || cols % type.block_elements != 0) {
      return Status::Errorf("AWQ search: {} cannot encode rows of {}", type.name, cols);
    }
    if (!m.importance.empty() &&
        (type.encode_weighted == nullptr || static_cast<int64_t>(m.importance.size()) != cols)) {
      return Status::Errorf(
          "AWQ search: importance of {} entries for {} columns of {} (weighted encoder: {})",
          m.importance.size(), cols, type.name, type.encode_weighted != nullptr ? "yes" : "no");
    }
  }
  if (gram.cols != cols || gram.rows <= 0 || static_cast<int64_t>(gram.xtx.size()) != cols * cols) {
    return Status::Errorf("AWQ search: the Gram matrix is {} x {} over {} rows, expected {} x {}",
                          gram.cols, gram.cols, gram.rows, cols, cols);
  }
  for (const AwqMatrix& m : group) {
    if (m.cols != cols || static_cast<int64_t>(m.w.size()) != m.rows * m.cols) {
      return Status::Errorf("AWQ search: a matrix of {} x {} in a group of {} columns", m.rows,
                            m.cols, cols);
    }
  }
  if (!scale_index.empty() && static_cast<int64_t>(scale_index.size()) != cols) {
    return Status::Error("AWQ search: scale_index needs one entry per column");
  }
  // Channel magnitudes: RMS of each input column from the Gram diagonal, pooled per channel.
  int32_t channels = static_cast<int32_t>(cols);
  if (!scale_index.empty())
    channels = *std::max_element(scale_index.begin(), scale_index.end()) + 1;
  std::vector<double> sum(channels, 0.0), count(channels, 0.0);
  for (int64_t j = 0; j < cols; ++j) {
    const int32_t k = scale_index.empty() ? static_cast<int32_t>(j) : scale_index[j];
    sum[k] += gram.xtx[j * cols + j] / static_cast<double>(gram.rows);
    count[k] += 1.0;
  }
  std::vector<double> magnitude(channels);
  for (int32_t k = 0; k < channels; ++k) {
    // A channel that never fired (or no column maps to it) keeps scale 1 at every α.
    magnitude[k] = count[k] > 0 && sum[k] > 0 ? std::sqrt(sum[k] / count[k]) : 0.0;
  }

  // The rows that enter the loss: every row, or max_rows evenly strided ones per matrix.
  std::vector<std::vector<float>> sampled_rows;
  std::vector<AwqMatrix> sampled;
  std::vector<double> weight;  // rows / sampled rows
  for (const AwqMatrix& m : group) {
    if (options.max_rows <= 0 || m.rows <= options.max_rows) {
      sampled.push_back(m);
      weight.push_back(1.0);
      continue;
    }
    std::vector<float>& w = sampled_rows.emplace_back();
    w.reserve(static_cast<size_t>(options.max_rows * cols));
    for (int64_t k = 0; k < options.max_rows; ++k) {
      const int64_t r = k * m.rows / options.max_rows;
      w.insert(w.end(), m.w.begin() + r * cols, m.w.begin() + (r + 1) * cols);
    }
    AwqMatrix s = m;
    s.w = w;
    s.rows = options.max_rows;
    sampled.push_back(s);
    weight.push_back(static_cast<double>(m.rows) / static_cast<double>(options.max_rows));
  }

  AwqSearchResult out;
  for (double alpha : options.alphas) {
    std::vector<float> s(channels, 1.0f);
    double lo = INFINITY, hi = 0.0;
    for (int32_t k = 0; k < channels; ++k) {
      if (magnitude[k] <= 0.0) continue;
      const double v = std::pow(magnitude[k], alpha);
      s[k] = static_cast<float>(v);
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (hi > 0.0) {
      const double norm = std::sqrt(lo * hi);
      for (int32_t k = 0; k < channels; ++k) {
        if (magnitude[k] > 0.0) s[k] = static_cast<float>(s[k] / norm);
      }
    }
    double loss = 0.0;
    for (size_t i = 0; i < sampled.size(); ++i) {
      const AwqMatrix& m = sampled[i];
      loss += weight[i] * ScaledQuantError(m, s, scale_index, gram, m.type.value_or(options.type),
                                           options.pool);
    }
    out.loss_by_alpha.push_back(loss);
    if (alpha == 0.0) out.loss_rtn = loss;
    if (out.scales.empty() || loss < out.loss) {
      out.alpha = alpha;
      out.loss = loss;
      out.scales = std::move(s);
    }
  }
  return out;
}

std::vector<int32_t> KvChannelOfQueryColumn(const Config& config, int layer) {
  const LayerConfig& l = config.layers[layer];
  const int32_t group = l.n_heads / l.n_kv_heads;
  std::vector<int32_t> out(static_cast<size_t>(l.n_heads) * config.head_dim);
  for (int32_t h = 0; h < l.n_heads; ++h) {
    for (int32_t d = 0; d < config.head_dim; ++d) {
      out[static_cast<size_t>(h) * config.head_dim + d] = (h / group) * config.head_dim + d;
    }
  }
  return out;
}

Status FoldAwqScales(const Config& config, int layer, const AwqLayerScales& scales,
                     Weights& weights) {
  if (layer < 0 || layer >= static_cast<int>(weights.layers.size())) {
    return Status::Errorf("AWQ fold: no layer {}", layer);
  }
  LayerWeights& w = weights.layers[layer];
  const size_t c = static_cast<size_t>(config.d_model);
  if (!scales.attn_in.empty()) {
    SHRINK_RETURN_IF_ERROR(CheckScales(scales.attn_in, c, "attn_in"));
    SHRINK_RETURN_IF_ERROR(DivideRows(w.attn_norm, scales.attn_in, weights));
    for (TensorView* t : {&w.attn_q, &w.attn_k, &w.attn_v}) {
      SHRINK_RETURN_IF_ERROR(ScaleColumns(*t, scales.attn_in, weights));
    }
  }
  if (!scales.ffn_in.empty()) {
    SHRINK_RETURN_IF_ERROR(CheckScales(scales.ffn_in, c, "ffn_in"));
    SHRINK_RETURN_IF_ERROR(DivideRows(w.ffn_norm, scales.ffn_in, weights));
    for (TensorView* t : {&w.ffn_gate, &w.ffn_up}) {
      SHRINK_RETURN_IF_ERROR(ScaleColumns(*t, scales.ffn_in, weights));
    }
  }
  if (!scales.v_out.empty()) {
    SHRINK_RETURN_IF_ERROR(
        CheckScales(scales.v_out, static_cast<size_t>(config.kv_dim(layer)), "v_out"));
    SHRINK_RETURN_IF_ERROR(DivideRows(w.attn_v, scales.v_out, weights));
    std::vector<float> per_column;
    for (int32_t k : KvChannelOfQueryColumn(config, layer)) per_column.push_back(scales.v_out[k]);
    SHRINK_RETURN_IF_ERROR(ScaleColumns(w.attn_output, per_column, weights));
  }
  if (!scales.up_out.empty()) {
    SHRINK_RETURN_IF_ERROR(
        CheckScales(scales.up_out, static_cast<size_t>(config.layers[layer].ffn_dim), "up_out"));
    SHRINK_RETURN_IF_ERROR(DivideRows(w.ffn_up, scales.up_out, weights));
    SHRINK_RETURN_IF_ERROR(ScaleColumns(w.ffn_down, scales.up_out, weights));
  }
  return Status::Ok();
}

}  // namespace shrink
