// Width pruning: removing FFN channels, attention heads (in whole GQA groups) and hidden
// dimensions, so that every matrix gets smaller (NVIDIA's Minitron recipe, one shot).
//
// A WidthPlan lists, per layer, the source indexes kept (ascending within their group):
//   ffn[l]       FFN channels: rows of ffn_gate/ffn_up, columns of ffn_down;
//   kv_heads[l]  key/value heads: rows (head_dim each) of attn_k/attn_v;
//   q_heads[l]   query heads, listed kept group by kept group, the same count in every group, so
//                that output query head i still reads key/value head i / (H'/K'): rows of attn_q,
//                columns of attn_output;
//   hidden       residual-stream dimensions, ONE set for every tensor that touches the stream:
//                token_embd and output columns, every norm vector (attn_norm, ffn_norm, the
//                Gemma-3 post norms, output_norm), the columns of attn_q/k/v, ffn_gate/up and the
//                rows of attn_output/ffn_down.
// head_dim never changes (Q/K norms and RoPE stay as they are): a hidden-pruned model has
// d_model != n_heads · head_dim, which GGUF expresses with attention.key_length/value_length.
//
// Widths come from calibration scores (prune/width_scores.h): uniform widths keep the top-scoring
// units of each layer (groups by the sum of their query heads' scores); a parameter budget removes
// units greedily across layers by weight-aware score per parameter (BudgetWidthPlan).
//
// Output metadata: llama.cpp's `llama` and `gemma3` loaders size every layer's tensors from layer
// 0's head count and FFN width (LLAMA_LOAD_LOCALS), so per-layer widths only load there under the
// `deci` architecture (Nemotron-NAS: the same tensors and graph as llama, with per-layer
// feed_forward_length / head_count / head_count_kv arrays). WidthPrunedMetadata therefore renames a
// llama model with per-layer widths to `deci` (model/architecture.h runs it as llama), and refuses
// per-layer widths for gemma3.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "prune/width_scores.h"

namespace shrink {

struct WidthPlan {
  std::vector<std::vector<int>> ffn;       // [layer] kept FFN channels, ascending
  std::vector<std::vector<int>> kv_heads;  // [layer] kept KV heads, ascending
  std::vector<std::vector<int>> q_heads;   // [layer] kept query heads, grouped by kv_heads
  std::vector<int> hidden;                 // kept residual dimensions, ascending
};

// The plan that keeps everything (pruning nothing).
WidthPlan FullWidthPlan(const Config& config);

// Uniform widths asked for by flags; -1 keeps the source's.
struct UniformWidths {
  int64_t ffn = -1;       // --ffn
  int64_t heads = -1;     // --heads (query heads per layer)
  int64_t kv_heads = -1;  // --kv-heads
  int64_t hidden = -1;    // --hidden
};

// Error unless `width` is a multiple of `multiple` (the output type's smallest block the width's
// rows can use): "--ffn 1000: rows of 1000 are not whole 32-element blocks of Q4_0; nearest valid:
// 992 or 1024". `multiple` 1 accepts everything.
Status CheckWidthMultiple(std::string_view flag, int64_t width, int64_t multiple,
                          std::string_view type_name);

// Checks the widths against every layer of `config` and resolves heads / kv-heads (one given: the
// other from the source's group size). Errors: a width ≤ 0 or above the source's ("--heads 12: the
// model has 9 query heads per layer"), kv-heads not dividing heads, more query heads per group than
// the source has, heads not whole groups when only --heads is given, a width not a multiple of
// `multiple` (CheckWidthMultiple, for FFN, hidden and heads·head_dim).
Result<UniformWidths> ResolveUniformWidths(const Config& config, UniformWidths widths,
                                           int64_t multiple, std::string_view type_name);

// Width scores from the weights alone, for selecting units without calibration text (a student
// cut from its teacher, prune/student_config.h). What each unit writes into the residual stream:
//   ffn_channel[l][j] = ‖ffn_down[:, j]‖₂, attn_column[l][i] = ‖attn_output[:, i]‖₂,
//   head[l][h] = the Frobenius norm of attn_output's columns of head h;
// and hidden[i] = Σ over every RMSNorm vector of |g_i| (what the norms multiply dimension i by
// before the linears read it: Minitron's sum of norm outputs, with the activations taken uniform).
// residual_norm is left empty. Errors: a tensor type without a decoder.
Result<WidthScores> WeightWidthScores(const Model& model);

// The top-scoring units of each layer at the resolved widths (ties: the lower index).
// REQUIRES: widths from ResolveUniformWidths; scores sized by `config`.
WidthPlan UniformWidthPlan(const Config& config, const WidthScores& scores,
                           const UniformWidths& widths);

// Parameters (tensor elements) of a model of `config`, embeddings and norms included.
int64_t ParamCount(const Config& config);

// Per-layer FFN widths and kept KV groups under a parameter budget, starting from `start` (whose
// hidden set is kept). Removable units: per layer, FFN channels in chunks of `ffn_multiple`
// (lowest scores first; the first chunk takes F mod ffn_multiple) and whole KV groups with their
// query heads; at least one chunk and one group stay in every layer. Each unit's score is the sum
// over its columns i of mean|x_i|·‖W[:, i]‖₂ (W: ffn_down or attn_output: its contribution to the
// residual stream) divided by the layer's mean residual norm (scores.residual_norm; 1 when
// absent), so that units of different layers and kinds compare as relative changes of the stream
// the next RMSNorm sees; units go in ascending
// score / parameters until ParamCount ≤ target_params. Error: the target is below what the
// constraints can reach (the message gives that minimum). The source's weights give the column
// norms (any stored type).
// The fewest parameters BudgetWidthPlan reaches from `config` with `hidden` residual dimensions:
// every layer at one FFN chunk (min(F, ffn_multiple) channels) and one KV group. Known before any
// score, so that a budget below it is refused before calibration.
int64_t BudgetFloorParams(const Config& config, int64_t hidden, int64_t ffn_multiple);

Result<WidthPlan> BudgetWidthPlan(const Model& model, const WidthScores& scores,
                                  const WidthPlan& start, int64_t target_params,
                                  int64_t ffn_multiple);

// The config of the pruned model (per-layer widths from the plan; d_model = hidden.size()).
Config WidthPrunedConfig(const Config& config, const WidthPlan& plan);

// The source metadata with the pruned shape (see the header comment): embedding_length,
// feed_forward_length / head_count / head_count_kv (scalars when uniform, i32 arrays otherwise),
// attention.key_length / value_length written explicitly, and for a llama model with per-layer
// widths every "llama." key renamed "deci." and general.architecture "deci". Error: per-layer
// widths on an architecture whose llama.cpp loader takes only one (gemma3).
Result<GgufMetadata> WidthPrunedMetadata(const GgufMetadata& source, const Config& source_config,
                                         const Config& pruned);

// The pruned model: config, F32 weights sliced from the source (decoded from any stored type),
// metadata (WidthPrunedMetadata of model.metadata, or of the config's keys when it has none);
// no tokenizer. Tensor names are the source's.
Result<std::unique_ptr<Model>> WidthPrunedModel(const Model& model, const WidthPlan& plan);

}  // namespace shrink
