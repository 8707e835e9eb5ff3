// Depth pruning: dropping whole transformer blocks.
//
// A model of L layers keeps the layers `kept` (ascending source indexes). Output layer i is source
// layer kept[i]: its tensors are renamed blk.<kept[i]>.* → blk.<i>.*, and every per-layer value
// follows its layer:
//   * <arch>.block_count becomes kept.size();
//   * per-layer arrays (<arch>.feed_forward_length, attention.head_count, attention.head_count_kv,
//     attention.sliding_window_pattern, and any other <arch>.* array of exactly L elements) keep
//     the kept layers' elements, in order; scalars stay scalars;
//   * a model with sliding-window layers gets attention.sliding_window_pattern as an explicit
//     per-layer bool array. llama.cpp (and shrink's loader) otherwise derive which layers slide
//     from the layer INDEX (Gemma-3: layer l is global when l % 6 == 5), so renumbering after a
//     drop would silently turn global layers into sliding ones and back. Both read a bool array
//     of block_count elements as the pattern itself.
// (llama.cpp's own --prune-layers leaves per-layer arrays at the old length: its issue 27976.)
//
// Which layers to drop: explicitly (--layers 3,7) or the n least important by block influence
// (calib/residual_similarity.h).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "model/weights.h"

namespace shrink {

// "3,7" → {3, 7} (sorted, duplicates removed). Errors: not a comma-separated list of integers, an
// index outside [0, n_layers) ("--layers: layer 40 does not exist; the model has 30 (0..29)").
Result<std::vector<int>> ParseLayerList(std::string_view text, int n_layers);

// The `n` layers of lowest influence (ties: the lower index first), ascending by index.
// REQUIRES: 0 <= n <= influence.size().
std::vector<int> LeastInfluentialLayers(std::span<const double> influence, int n);

// The layers of 0..n_layers-1 not in `dropped` (ascending). Error when nothing would be left
// ("dropping 30 of 30 layers leaves none; keep at least one").
Result<std::vector<int>> KeptLayers(int n_layers, std::span<const int> dropped);

// `n` of `n_layers` layers spread evenly from the first to the last (both kept when n >= 2):
// layer round(i·(n_layers − 1)/(n − 1)) for i < n; {0} for n = 1. Ascending, no duplicates.
// How a shallower student is cut from a teacher without calibration (prune/student_config.h).
// REQUIRES: 1 <= n <= n_layers.
std::vector<int> EvenlySpacedLayers(int n_layers, int n);

// The config of the model that keeps `kept` (ascending indexes into config.layers).
Config DepthPrunedConfig(const Config& config, std::span<const int> kept);

// The source metadata rewritten for the kept layers (see above). `config` is the source's.
// Errors: a per-layer array whose element type cannot be subset (nested arrays).
Result<GgufMetadata> DepthPrunedMetadata(const GgufMetadata& source, const Config& config,
                                         std::span<const int> kept);

// The model that keeps `kept` (ascending): DepthPrunedConfig, the kept layers' views renumbered
// (their data still the source's: the source's storage is shared, so the result may outlive
// `model`), DepthPrunedMetadata of the source's metadata (of its config's keys when it has none),
// the chat template; no tokenizer. Errors: DepthPrunedMetadata's; a source with low-rank factor
// pairs (only whole linears are carried over).
Result<std::unique_ptr<Model>> DepthPrunedModel(const Model& model, std::span<const int> kept);

// Copies of the views in `order` that belong to kept layers or to no layer, in the same order,
// layer tensors renamed to their new index (name and `layer`); data spans unchanged. When
// `source_names` is not null it receives each copy's source name, aligned with the result.
std::vector<TensorView> DepthPrunedViews(std::span<const TensorView* const> order,
                                         std::span<const int> kept,
                                         std::vector<std::string>* source_names = nullptr);

}  // namespace shrink
