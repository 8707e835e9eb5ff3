// AWQ-style activation-aware scaling (issue 7 item 5): per input channel scales s that make the
// channels with large activations cheaper to quantize, searched on calibration statistics and
// folded into the float model so that its function is unchanged and the file stays a plain GGUF
// of the same architecture.
//
// For a linear y = x·Wᵀ (W: rows × cols) whose input x comes from something that can absorb a
// per-channel factor, W' = W·diag(s) and x' = x·diag(1/s) give the same y. Quantizing W' instead of
// W spreads the rounding error differently: the effective weight is Q(W·diag(s))·diag(1/s), so a
// channel with s_j > 1 gets a finer grid. AWQ takes s = a^α with a_j the activation magnitude of
// channel j, α ∈ [0, 1] searched on a grid (α = 0 is plain round-to-nearest).
//
// The search loss needs no stored activations: with ΔW = Q(W·diag(s))·diag(1/s) − W and the Gram
// matrix G = XᵀX over n calibration rows (calib/hessian.h HessianCollector),
//   loss(s) = Σ_t ‖x_t·ΔWᵀ‖² / n = Σ_rows ΔW_r · G · ΔW_rᵀ / n,
// the mean squared output error per token. a_j is taken as √(G_jj / n), the RMS of channel j (AWQ
// uses mean |x|; the RMS comes free with the Gram matrix). Scales are normalised to a geometric
// mean of 1 (√(max·min) as AWQ does) so that α only reshapes them.
//
// Where the factor goes (FoldAwqScales), per layer:
//   attn_in (C):  attn_norm weight × 1/s; attn_q, attn_k, attn_v columns × s
//   ffn_in  (C):  ffn_norm weight × 1/s;  ffn_gate, ffn_up columns × s
//   v_out (KV):   attn_v rows × 1/s; attn_output columns × s, each query head's column taking the
//                 scale of its K/V head's channel (grouped-query attention shares V among heads)
//   up_out (F):   ffn_up rows × 1/s;  ffn_down columns × s  (act(gate)·up is linear in up)
// Each holds in exact arithmetic for both architectures (llama, gemma3: its Q/K norms and post
// norms sit where no scale passes through).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "calib/hessian.h"
#include "formats/types.h"
#include "model/config.h"
#include "model/weights.h"

namespace shrink {

// A row-major F32 matrix (rows × cols) that a group's scales multiply column-wise.
struct AwqMatrix {
  std::span<const float> w;
  int64_t rows = 0;
  int64_t cols = 0;
  // The type this matrix will be encoded to; empty: the search's AwqSearchOptions::type.
  std::optional<TensorType> type;
  // Per-column importance of the UNSCALED input (an imatrix's mean x², cols entries) that the
  // final encode weighs by; empty: the type's plain encoder. Scaling the columns by s divides the
  // input by s, so the error of a candidate is measured with encode_weighted(importance_j / s_j²).
  std::span<const float> importance;
};

// The mean squared output error of quantizing `m` to `type` after scaling its columns by
// s[scale_index[j]] (identity when scale_index is empty): Σ_rows ΔW G ΔWᵀ / gram.rows, the
// quadratic form taken as one matrix product per tile of 64 rows (OpenBLAS dsymm).
// Threads: the tiles are shared among `pool`'s threads (null: the calling thread alone); each
// tile's sum is kept apart and the sums are added in tile order, so the result is the same for
// every thread count. With a pool, OpenBLAS must be at one thread (ScopedBlasThreads(1)): its own
// threads would compete with the pool's, and its idle threads spin while the pool encodes.
// REQUIRES: m.cols % type's block == 0, gram.cols == m.cols, gram.rows > 0, scales > 0; `type`
// has an encoder (and encode_weighted when m.importance is given); scale_index empty or m.cols
// entries indexing `s`; no other Run on `pool` meanwhile.
double ScaledQuantError(const AwqMatrix& m, std::span<const float> s,
                        std::span<const int32_t> scale_index, const GramEntry& gram,
                        TensorType type, ThreadPool* pool = nullptr);

struct AwqSearchOptions {
  TensorType type = TensorType::kQ4_0;
  std::vector<double> alphas = DefaultAlphaGrid();  // α values tried
  // At most this many rows of each matrix (evenly strided) enter the loss, scaled up by
  // rows / sampled: rows are quantized independently, so this estimates the same loss at a
  // fraction of the cost (the search encodes and multiplies every sampled row once per α).
  // 0: every row.
  int64_t max_rows = 0;
  // Where ScaledQuantError's row tiles run (see there); null: the calling thread.
  ThreadPool* pool = nullptr;
  static std::vector<double> DefaultAlphaGrid(int steps = 20);  // 0, 1/steps, ..., 1
};

struct AwqSearchResult {
  double alpha = 0.0;
  std::vector<float> scales;          // the chosen s, one per scale channel
  double loss = 0.0;                  // Σ over the group's matrices at `alpha`
  double loss_rtn = 0.0;              // the same at α = 0 (s = 1): round-to-nearest
  std::vector<double> loss_by_alpha;  // per options.alphas entry
};

// Searches α for one group of matrices that share an input (q/k/v, gate/up, or a single
// attn_output / ffn_down), each encoded to its own type (or options.type). `gram` is XᵀX of that input (cols × cols); `scale_index` maps each
// input column to its scale channel (empty: one scale per column; for attn_output, the K/V
// channel each query column reads: KvChannelOfQueryColumn). Ties keep the smaller α.
// Errors: an empty group, mismatched columns, a Gram with no rows, a type without encoder or
// whose block does not divide the columns, importance of the wrong length.
Result<AwqSearchResult> SearchAwqScales(std::span<const AwqMatrix> group, const GramEntry& gram,
                                        std::span<const int32_t> scale_index,
                                        const AwqSearchOptions& options);

// For attn_output's input of layer `layer` (n_heads × head_dim columns): the K/V channel
// (kv_head × head_dim + d) each column's value comes from.
std::vector<int32_t> KvChannelOfQueryColumn(const Config& config, int layer);

// Scales for one layer; an empty vector leaves that place unscaled.
struct AwqLayerScales {
  std::vector<float> attn_in;  // d_model
  std::vector<float> ffn_in;   // d_model
  std::vector<float> v_out;    // kv_dim(layer)
  std::vector<float> up_out;   // ffn_dim of the layer
};

// Folds `scales` into layer `layer` of `weights` (see the header's table). Every touched tensor is
// decoded to F32 into a new buffer owned by weights.storage and its view repointed (so a
// quantized or mapped source is never written). Errors: a scale vector of the wrong length, a
// scale that is not finite and > 0, a missing tensor.
Status FoldAwqScales(const Config& config, int layer, const AwqLayerScales& scales,
                     Weights& weights);

}  // namespace shrink
