// `shrink prune IN OUT`: removes weights a model needs least and writes a GGUF that llama.cpp
// loads.
//   unstructured: --method magnitude|wanda with --sparsity S (per output row) or --pattern N:M,
//                 on every linear inside the blocks (not token_embd, not output);
//   depth:        --drop-layers N (the N blocks of least influence on the residual stream over
//                 the calibration text) or --layers 3,7 (those blocks);
//   SparseGPT:    --method sparsegpt with --sparsity S or --pattern N:M: each block linear pruned
//                 from the Hessian of its inputs, layer by layer through the pruned layers
//                 (prune/sparsegpt_model.h), the kept weights updated to compensate;
//   width:        --ffn F --heads H --kv-heads K --hidden D (uniform widths), or --method width
//                 --target-params P (per-layer FFN widths and KV groups chosen under a parameter
//                 budget), by Minitron activation scores on --calibration (cli/prune_width.h);
//   low rank:     --method svd with --rank-ratio R or --target-params P (cli/prune_low_rank.h);
// unstructured and depth in one run if asked (not with SparseGPT; width and svd alone). Wanda,
// SparseGPT, width and --drop-layers need --calibration FILE (run through the model in --chunks
// chunks of --ctx tokens, as shrink imatrix does). Weights are written dense
// with zeros in F32, or in --type T (any quantize type or mix, through the quantization plan).
// The pruning is recorded in shrink.prune.* metadata keys (docs/pruning.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/progress.h"
#include "calib/calibration_run.h"
#include "calib/imatrix.h"
#include "calib/residual_similarity.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/prune_low_rank.h"
#include "cli/prune_width.h"
#include "cli/resources.h"
#include "eval/text_file.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "kernels/matmul.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "model/transformer.h"
#include "prune/depth.h"
#include "prune/pruned_gguf.h"
#include "prune/sparsegpt_model.h"
#include "prune/sparsity.h"
#include "prune/wanda.h"
#include "prune/width.h"
#include "prune/width_scores.h"
#include "quant/plan.h"
#include "quant/quantized_gguf.h"

namespace shrink::cli {
namespace {

struct PruneFlags {
  std::string in_path, out_path, method, pattern, layers, calibration, tokenizer_path;
  std::string target_params;  // --target-params (with --method width or svd)
  UniformWidths widths;       // --ffn, --heads, --kv-heads, --hidden (-1: keep)
  std::string type = "F32";
  std::optional<double> sparsity;
  std::optional<double> rank_ratio;  // --method svd
  int32_t drop_layers = -1;
  std::optional<double> percdamp;  // --method sparsegpt
  std::string mask_scope;          // --method sparsegpt: block or row
  int32_t n_ctx = 512;
  int32_t max_chunks = -1;
  bool explain = false, dry_run = false, allow_long_context = false;
  int threads = std::max(1u, std::thread::hardware_concurrency());
};

// What the flags ask for, checked before the model is loaded.
struct PruneRequest {
  bool unstructured = false;
  PruneMethod method = PruneMethod::kMagnitude;
  SparsityTarget target;
  bool depth = false;
  bool width = false;   // --ffn/--heads/--kv-heads/--hidden or --method width --target-params
  bool budget = false;  // --target-params: per-layer widths
  bool needs_calibration = false;
};

Result<PruneRequest> CheckFlags(const PruneFlags& f) {
  PruneRequest r;
  const bool has_sparsity = f.sparsity.has_value();
  if (has_sparsity && !f.pattern.empty()) {
    return Status::Error("--sparsity and --pattern both given: choose one (N:M sets the sparsity)");
  }
  if (has_sparsity) {
    SHRINK_RETURN_IF_ERROR(CheckSparsity(*f.sparsity));
    r.target.sparsity = *f.sparsity;
  }
  if (!f.pattern.empty()) {
    SHRINK_ASSIGN_OR_RETURN(r.target, ParsePattern(f.pattern));
  }
  r.unstructured = has_sparsity || !f.pattern.empty();
  if ((f.percdamp.has_value() || !f.mask_scope.empty()) && f.method != "sparsegpt") {
    return Status::Error("--percdamp and --mask-scope are options of --method sparsegpt");
  }
  if (f.percdamp.has_value() && !(*f.percdamp > 0.0)) {
    return Status::Errorf("--percdamp {}: expected a damping fraction > 0 (default 0.01)",
                          *f.percdamp);
  }
  if (!f.mask_scope.empty() && f.mask_scope != "block" && f.mask_scope != "row") {
    return Status::Errorf("--mask-scope: expected block or row, got \"{}\"", f.mask_scope);
  }
  const UniformWidths& w = f.widths;
  const bool uniform_width = w.ffn != -1 || w.heads != -1 || w.kv_heads != -1 || w.hidden != -1;
  if (f.method == "width") {
    if (r.unstructured) return Status::Error("--method width takes no --sparsity or --pattern");
    if (f.target_params.empty() && !uniform_width) {
      return Status::Error(
          "--method width needs --target-params P (per-layer widths) or --ffn/--heads/--kv-heads/"
          "--hidden");
    }
  } else if (!f.target_params.empty()) {
    return Status::Error("--target-params needs --method width or --method svd");
  } else if (!f.method.empty()) {
    if (!r.unstructured) return Status::Error("--method needs --sparsity or --pattern");
    if (f.method == "wanda") {
      r.method = PruneMethod::kWanda;
    } else if (f.method == "sparsegpt") {
      r.method = PruneMethod::kSparseGpt;
    } else if (f.method != "magnitude") {
      return Status::Errorf(
          "--method: expected magnitude, wanda, sparsegpt, width or svd, got \"{}\"", f.method);
    }
  }
  r.budget = !f.target_params.empty();
  r.width = uniform_width || r.budget;
  if (r.budget && (w.ffn != -1 || w.heads != -1 || w.kv_heads != -1)) {
    return Status::Error(
        "--target-params chooses the FFN widths and heads per layer: give no --ffn/--heads/"
        "--kv-heads with it (--hidden may be combined)");
  }
  if (f.drop_layers >= 0 && !f.layers.empty()) {
    return Status::Error("--drop-layers and --layers both given: choose one");
  }
  r.depth = f.drop_layers >= 0 || !f.layers.empty();
  if (!r.unstructured && !r.depth && !r.width) {
    return Status::Error(
        "nothing to prune: give --sparsity S or --pattern N:M (unstructured), --drop-layers N "
        "or --layers I,J (depth), or --ffn/--heads/--kv-heads/--hidden or --method width "
        "--target-params P (width)");
  }
  if (r.width && (r.unstructured || r.depth)) {
    return Status::Error(
        "width pruning runs alone: prune the width first, then run shrink prune again on its "
        "output for sparsity or depth");
  }
  const bool sparsegpt = r.unstructured && r.method == PruneMethod::kSparseGpt;
  if (sparsegpt && r.depth) {
    // SparseGPT's Hessians come from inputs through every layer; prune the depth first, then run
    // SparseGPT on that output.
    return Status::Error(
        "--method sparsegpt with --drop-layers/--layers: not in one run; drop the layers first, "
        "then run sparsegpt on that file");
  }
  r.needs_calibration =
      (r.unstructured && r.method != PruneMethod::kMagnitude) || f.drop_layers > 0 || r.width;
  if (r.needs_calibration && f.calibration.empty()) {
    return Status::Errorf("{} needs --calibration FILE (text run through the model)",
                          r.width ? "width pruning (activation scores)"
                          : f.drop_layers > 0
                              ? "--drop-layers"
                              : fmt::format("--method {}", PruneMethodName(r.method)));
  }
  return r;
}

// The tensors in the source's order (a GGUF's own, else the tensor table's).
Result<std::vector<const TensorView*>> SourceOrder(const std::string& path, const Model& model) {
  if (model.metadata.empty()) return TensorsInTableOrder(model.weights);
  SHRINK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  std::vector<std::string> names;
  for (const GgufTensorInfo& t : file.tensors()) names.push_back(t.name);
  return TensorsInOrder(model.weights, names).WithContext(path);
}

// Calibration statistics: per-column Σx² of every block linear (Wanda) and each block's
// influence on the residual stream (--drop-layers), from one pass over the text.
struct Calibration {
  ImatrixCollector imatrix{BlockLinears};
  ResidualSimilarityCollector residual;
  std::unique_ptr<WidthScoreCollector> width;  // width pruning only
  int32_t chunks = 0, n_ctx = 0;
};

// The calibration text tokenized and cut into chunks.
struct CalibrationText {
  std::vector<TokenId> tokens;
  CalibrationPlan plan;
  TokenId bos = -1;  // first in each chunk, or -1
};

Result<CalibrationText> TokenizeCalibration(const PruneFlags& f, const Model& model) {
  SHRINK_ASSIGN_OR_RETURN(const std::string text, ReadUtf8TextFile(f.calibration));
  const Config& c = model.config;
  SHRINK_RETURN_IF_ERROR(CheckTrainedContext(fmt::format("--ctx {}", f.n_ctx), f.n_ctx,
                                             c.context_length, f.allow_long_context));
  const Tokenizer& tokenizer = *model.tokenizer;
  if (tokenizer.adds_bos() && tokenizer.bos() < 0) {
    return Status::Errorf("{}: the vocabulary adds BOS but defines no BOS token", f.in_path);
  }
  CalibrationText out;
  out.tokens = tokenizer.Encode(StripOneTrailingNewline(text),
                                /*add_special=*/true,
                                /*parse_special=*/false);
  SHRINK_ASSIGN_OR_RETURN(
      out.plan,
      PlanCalibration(out.tokens.size(), f.n_ctx, f.max_chunks).WithContext(f.calibration));
  out.bos = tokenizer.adds_bos() ? tokenizer.bos() : -1;
  fmt::print(stderr, "prune: calibrating on {} chunks of {} tokens of {}\n", out.plan.n_chunk,
             out.plan.n_ctx, f.calibration);
  return out;
}

// SparseGPT on every block linear of `model`, in place (the views then hold the pruned F32
// weights); per-tensor kept fractions printed with --explain.
Result<SparseGptModelReport> RunSparseGpt(const PruneFlags& f, const PruneRequest& r,
                                          Model& model) {
  SHRINK_ASSIGN_OR_RETURN(const CalibrationText calib, TokenizeCalibration(f, model));
  if (f.explain) fmt::print("per tensor: kept fraction (sparsegpt):\n");
  ProgressReporter progress("prune: sparsegpt", "layers", model.config.n_layers);
  SparseGptModelOptions o;
  o.threads = f.threads;
  if (f.percdamp.has_value()) o.sparsegpt.percdamp = *f.percdamp;
  if (f.mask_scope == "row") o.sparsegpt.mask_scope = SparseGptMaskScope::kRow;
  o.bos = calib.bos;
  o.on_layer = [&](int done, int) { progress.Update(done); };
  if (f.explain) {
    o.on_tensor = [](std::string_view name, int64_t removed, int64_t total) {
      fmt::print("  {:<28} kept {:.4f}\n", name,
                 1.0 - static_cast<double>(removed) / static_cast<double>(total));
    };
  }
  SHRINK_ASSIGN_OR_RETURN(
      SparseGptModelReport report,
      SparseGptPruneModel(model, r.target, calib.tokens, calib.plan, o).WithContext(f.calibration));
  progress.Finish();
  return report;
}

Status RunCalibrationPass(const PruneFlags& f, const Model& model, Calibration& calib) {
  SHRINK_ASSIGN_OR_RETURN(const CalibrationText text, TokenizeCalibration(f, model));
  const Config& c = model.config;
  const std::vector<TokenId>& tokens = text.tokens;
  const CalibrationPlan& plan = text.plan;
  SetMatMulThreads(f.threads);
  const PreparedModel prepared(model);
  InferenceSession session(prepared, plan.n_ctx);
  std::vector<ForwardObserver*> observers = {&calib.imatrix, &calib.residual};
  if (calib.width != nullptr) observers = {calib.width.get()};
  ObserverFanout fanout(observers);
  session.SetObserver(&fanout);
  ProgressReporter progress("prune: calibration", "chunks", plan.n_chunk);
  CalibrationOptions run;
  run.bos = text.bos;
  run.on_chunk = [&](int32_t done) { progress.Update(done); };
  SHRINK_RETURN_IF_ERROR(
      RunCalibration(session, c.vocab_size, tokens, plan, run).WithContext(f.calibration));
  progress.Finish();
  calib.chunks = plan.n_chunk;
  calib.n_ctx = plan.n_ctx;
  return Status::Ok();
}

// The shrink.prune.* keys (docs/pruning.md).
void AddPruneMetadata(GgufMetadata& m, const PruneFlags& f, const PruneRequest& r,
                      int source_layers, std::span<const int> dropped, int pruned_tensors) {
  if (r.unstructured) {
    m.emplace_back("shrink.prune.method",
                   GgufValue::String(std::string(PruneMethodName(r.method))));
    m.emplace_back("shrink.prune.sparsity",
                   GgufValue::F32(static_cast<float>(r.target.removed_fraction())));
    if (r.target.pattern()) {
      m.emplace_back("shrink.prune.pattern", GgufValue::String(r.target.Describe()));
    }
    m.emplace_back("shrink.prune.tensors", GgufValue::U32(static_cast<uint32_t>(pruned_tensors)));
  }
  if (r.depth) {
    m.emplace_back("shrink.prune.source_block_count",
                   GgufValue::U32(static_cast<uint32_t>(source_layers)));
    GgufArray layers(GgufValueType::kInt32);
    for (int l : dropped) layers.Push(GgufValue::I32(l));
    m.emplace_back("shrink.prune.dropped_layers", GgufValue::Array(std::move(layers)));
  }
  if (!f.calibration.empty() && r.needs_calibration) {
    const std::string name = std::filesystem::path(f.calibration).filename().string();
    m.emplace_back("shrink.prune.calibration", GgufValue::String(name.substr(0, 127)));
  }
}

// The width part of the flags (cli/prune_width.h).
WidthPruneFlags WidthFlagsOf(const PruneFlags& f) {
  return {.widths = f.widths,
          .target_params = f.target_params,
          .out_path = f.out_path,
          .calibration = f.calibration,
          .explain = f.explain,
          .dry_run = f.dry_run};
}

Status RunPrune(const PruneFlags& f) {
  if (f.method == "svd") {
    if (f.sparsity || !f.pattern.empty() || f.drop_layers >= 0 || !f.layers.empty()) {
      return Status::Error("--method svd combines with no other pruning in one run");
    }
    return RunLowRankPrune({.in_path = f.in_path,
                            .out_path = f.out_path,
                            .tokenizer_path = f.tokenizer_path,
                            .type = f.type,
                            .rank_ratio = f.rank_ratio,
                            .target_params = f.target_params,
                            .calibration = f.calibration,
                            .n_ctx = f.n_ctx,
                            .max_chunks = f.max_chunks,
                            .allow_long_context = f.allow_long_context,
                            .explain = f.explain,
                            .dry_run = f.dry_run,
                            .threads = f.threads});
  }
  if (f.rank_ratio) return Status::Error("--rank-ratio needs --method svd");
  SHRINK_ASSIGN_OR_RETURN(const PruneRequest request, CheckFlags(f));
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(f.type));
  if (!f.dry_run) {
    if (f.out_path.empty()) return Status::Error("prune needs an output path (or --dry-run)");
    SHRINK_RETURN_IF_ERROR(CheckOutputFolder(f.out_path));
  }
  if (!f.calibration.empty() && request.needs_calibration) {
    SHRINK_RETURN_IF_ERROR(ReadUtf8TextFile(f.calibration).status());  // before a large load
  }
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions options;
  options.tokenizer_path = f.tokenizer_path;
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(f.in_path, options));
  const Config& config = model->config;
  SHRINK_ASSIGN_OR_RETURN(const std::vector<const TensorView*> order,
                          SourceOrder(f.in_path, *model));
  GgufMetadata source_metadata = model->metadata;
  if (source_metadata.empty()) {
    SHRINK_ASSIGN_OR_RETURN(source_metadata, Llama2cGgufMetadata(*model));
  }
  // Every check on the flags against the model comes before any output, so that bad input gives
  // exactly one line.
  std::vector<int> dropped;
  if (!f.layers.empty()) {
    SHRINK_ASSIGN_OR_RETURN(dropped, ParseLayerList(f.layers, config.n_layers));
    SHRINK_RETURN_IF_ERROR(KeptLayers(config.n_layers, dropped).status().WithContext("--layers"));
  }
  if (f.drop_layers >= config.n_layers) {
    return Status::Errorf(
        "--drop-layers {}: the model has {} layers; dropping all leaves none "
        "(at most {})",
        f.drop_layers, config.n_layers, config.n_layers - 1);
  }
  if (request.unstructured) {
    for (const TensorView* v : order) {
      if (v->layer >= 0 && SpecOf(v->role).linear) {
        SHRINK_RETURN_IF_ERROR(CheckPatternFits(request.target, v->cols(), v->name));
      }
    }
  }
  WidthArgs width_args;
  if (request.width) {
    SHRINK_ASSIGN_OR_RETURN(width_args, CheckWidthFlags(WidthFlagsOf(f), config, *mix));
  }
  fmt::print(stderr, "prune: {}: {} loaded in {:.2f} s\n", f.in_path, config.Summary(),
             SecondsSince(t0));

  const bool sparsegpt = request.unstructured && request.method == PruneMethod::kSparseGpt;
  Calibration calib;
  std::optional<SparseGptModelReport> sparsegpt_report;
  if (request.width) calib.width = std::make_unique<WidthScoreCollector>(config);
  if (sparsegpt && !f.dry_run) {
    // Prunes model->weights in place: the views below then carry the pruned weights, written
    // as they are (not pruned again).
    SHRINK_ASSIGN_OR_RETURN(sparsegpt_report, RunSparseGpt(f, request, *model));
  } else if (request.needs_calibration && !sparsegpt) {
    SHRINK_RETURN_IF_ERROR(RunCalibrationPass(f, *model, calib));
  }
  if (request.width) {
    return WriteWidthPruned(WidthFlagsOf(f), *model, source_metadata, order, width_args,
                            calib.width->Scores(), *mix);
  }
  if (f.drop_layers >= 0) {
    std::vector<double> influence(config.n_layers, 0.0);
    for (int l = 0; l < config.n_layers && l < calib.residual.layers(); ++l) {
      influence[l] = calib.residual.BlockInfluence(l);
    }
    dropped = LeastInfluentialLayers(influence, f.drop_layers);
    if (f.explain || f.dry_run) {
      fmt::print("layer influence (1 - mean cosine of the residual stream across the block):\n");
      for (int l = 0; l < config.n_layers; ++l) {
        const bool drop = std::find(dropped.begin(), dropped.end(), l) != dropped.end();
        fmt::print("  blk.{:<3} {:.6f}{}\n", l, influence[l], drop ? "  dropped" : "");
      }
    }
  }
  SHRINK_ASSIGN_OR_RETURN(const std::vector<int> kept, KeptLayers(config.n_layers, dropped));
  const Config out_config = DepthPrunedConfig(config, kept);
  std::vector<std::string> source_names;  // aligned with `views`
  const std::vector<TensorView> views = DepthPrunedViews(order, kept, &source_names);
  std::vector<const TensorView*> view_order;
  std::map<const TensorView*, std::string> source_name;  // output view → source tensor name
  for (size_t i = 0; i < views.size(); ++i) {
    view_order.push_back(&views[i]);
    source_name[&views[i]] = source_names[i];
  }
  if (request.depth) {
    fmt::print(stderr, "prune: dropping {} of {} layers: {}; {} remain\n", dropped.size(),
               config.n_layers, fmt::join(dropped, ","), kept.size());
  }

  // Types from the quantization plan of the pruned model; pruning specs per tensor.
  const QuantPlan plan = PlanQuantization(out_config, view_order, *mix);
  std::map<std::string, std::vector<float>> scales;  // Wanda scales by source name
  std::vector<PrunedTensor> tensors;
  int pruned_tensors = 0;
  for (const TensorPlan& t : plan.tensors) {
    PrunedTensor p{t.source, t.type, {}};
    const TensorView& v = *t.source;
    const bool pruned = request.unstructured && v.layer >= 0 && SpecOf(v.role).linear;
    p.spec.prune = pruned && !sparsegpt;  // SparseGPT's are pruned already
    if (p.spec.prune && request.method == PruneMethod::kWanda) {
      const std::string& name = source_name[&v];
      const ImatrixEntry* e = calib.imatrix.Find(name);
      if (e == nullptr || static_cast<int64_t>(e->sum_sq.size()) != v.cols()) {
        return Status::Errorf("{}: no calibration statistics for its input", name);
      }
      p.spec.column_scale = scales.emplace(name, WandaColumnScale(*e)).first->second;
    }
    pruned_tensors += pruned;
    tensors.push_back(p);
  }
  SHRINK_RETURN_IF_ERROR(CheckPrunable(tensors, request.target));

  GgufMetadata metadata = source_metadata;
  if (request.depth) {
    SHRINK_ASSIGN_OR_RETURN(metadata, DepthPrunedMetadata(source_metadata, config, kept));
  }
  metadata = QuantizedMetadata(metadata, *mix);
  AddPruneMetadata(metadata, f, request, config.n_layers, dropped, pruned_tensors);
  SHRINK_ASSIGN_OR_RETURN(const uint64_t file_bytes,
                          GgufFileSize(metadata, PrunedTensorDecls(tensors)));
  if (request.unstructured) {
    fmt::print(stderr,
               "prune: {} {} on the {} linear tensors inside the blocks (token_embd and output "
               "are kept whole); weights written dense with zeros as {}\n",
               PruneMethodName(request.method), request.target.Describe(), pruned_tensors,
               mix->name);
  }

  auto explain_line = [&](size_t i, const TensorPruneStats& s) {
    const PrunedTensor& t = tensors[i];
    if (!t.spec.prune) return;
    fmt::print("  {:<28} {:>6} kept {:.4f}  threshold mean {:.6g} max {:.6g}\n", t.source->name,
               Traits(t.type).name, s.kept_fraction(), s.mean_threshold(), s.threshold_max);
  };
  if (f.explain && request.unstructured && !sparsegpt) {
    fmt::print("per tensor: kept fraction and score threshold ({} score{}), over rows:\n",
               PruneMethodName(request.method),
               request.method == PruneMethod::kWanda ? " |W|·‖X‖₂" : " |W|");
  }
  if (f.dry_run) {
    if (sparsegpt) fmt::print("sparsegpt: not run in a dry run (it is the whole cost)\n");
    if (f.explain && request.unstructured && !sparsegpt) {
      for (size_t i = 0; i < tensors.size(); ++i) {
        if (!tensors[i].spec.prune) continue;
        TensorPruneStats s;
        SHRINK_RETURN_IF_ERROR(ForEachPrunedSlab(
            *tensors[i].source, tensors[i].spec, request.target, &s,
            [](int64_t, int64_t, std::span<const float>) { return Status::Ok(); }));
        explain_line(i, s);
      }
    }
    fmt::print("{} tensors, {} layers, file {} bytes (dry run: nothing written)\n", tensors.size(),
               out_config.n_layers, file_bytes);
    return Status::Ok();
  }

  ProgressReporter progress("prune", "tensors", static_cast<int64_t>(tensors.size()));
  PruneWriteOptions w;
  w.target = request.target;
  int64_t kept_weights = 0, total = 0;
  w.on_tensor_done = [&](size_t i, const TensorPruneStats& s) {
    if (tensors[i].spec.prune) {
      kept_weights += s.kept;
      total += s.total;
    }
    if (f.explain) explain_line(i, s);
    progress.Update(static_cast<int64_t>(i + 1));
  };
  const auto t1 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(WritePrunedGguf(f.out_path, metadata, tensors, w));
  progress.Finish();
  if (sparsegpt_report.has_value()) {
    kept_weights = sparsegpt_report->total - sparsegpt_report->removed;
    total = sparsegpt_report->total;
  }
  if (total > 0) {
    fmt::print(stderr, "prune: kept {} of {} weights of the pruned tensors ({:.2f}%)\n",
               kept_weights, total, 100.0 * kept_weights / total);
  }
  fmt::print(stderr, "prune: wrote {} ({} bytes, {} layers) in {:.2f} s\n", f.out_path, file_bytes,
             out_config.n_layers, SecondsSince(t1));
  return Status::Ok();
}

}  // namespace

void AddPruneCommand(CLI::App& app) {
  auto flags = std::make_shared<PruneFlags>();
  CLI::App* cmd =
      app.add_subcommand("prune",
                         "Prune a model: unstructured or N:M sparsity (magnitude, Wanda, "
                         "SparseGPT) on the linears inside the "
                         "blocks, and/or drop whole layers; writes a GGUF llama.cpp loads");
  cmd->add_option("input", flags->in_path, "model file (GGUF, or llama2.c .bin with --tokenizer)")
      ->required();
  cmd->add_option("output", flags->out_path, "GGUF file to write (not needed with --dry-run)");
  cmd->add_option(
      "--method", flags->method,
      "magnitude (|W|), wanda (|W|·‖X‖₂) or sparsegpt (OBS with weight updates, layer "
      "by layer), with --sparsity or --pattern; wanda and sparsegpt need --calibration; "
      "default magnitude; width with --target-params (per-layer widths); svd (low-rank "
      "factors, with --rank-ratio or --target-params)");
  cmd->add_option("--rank-ratio", flags->rank_ratio,
                  "svd: fraction of each linear's full rank kept, in (0, 1]");
  cmd->add_option("--sparsity", flags->sparsity,
                  "fraction of each output row's weights set to 0, in [0, 1)");
  cmd->add_option("--pattern", flags->pattern, "N:M: keep N of every M consecutive weights (2:4)");
  cmd->add_option("--percdamp", flags->percdamp,
                  "sparsegpt: Hessian damping as a fraction of its mean diagonal (default 0.01)");
  cmd->add_option("--mask-scope", flags->mask_scope,
                  "sparsegpt with --sparsity: block (default: every block of 128 columns loses "
                  "the same share of a row) or row (the row's budget spent where the columns "
                  "not yet visited score lowest)");
  cmd->add_option("--drop-layers", flags->drop_layers,
                  "drop the N layers of least influence on the residual stream (needs "
                  "--calibration)")
      ->check(IntegerIn(0, 1 << 20));
  cmd->add_option("--layers", flags->layers, "drop these layers (comma-separated indexes)");
  cmd->add_option("--ffn", flags->widths.ffn,
                  "width: keep this many FFN channels in every layer (highest mean |activation| "
                  "entering ffn_down; needs --calibration)");
  cmd->add_option("--heads", flags->widths.heads,
                  "width: keep this many query heads per layer (in whole GQA groups unless "
                  "--kv-heads says otherwise)");
  cmd->add_option("--kv-heads", flags->widths.kv_heads,
                  "width: keep this many key/value heads (groups) per layer");
  cmd->add_option("--hidden", flags->widths.hidden,
                  "width: keep this many residual-stream dimensions (embedding_length)");
  cmd->add_option("--target-params", flags->target_params,
                  "with --method width: per-layer FFN widths and KV groups chosen by score until "
                  "the model has at most this many parameters (100M, 1.5G, 250000)");
  cmd->add_option("--calibration", flags->calibration, "UTF-8 calibration text");
  cmd->add_option("--chunks", flags->max_chunks, "use only the first N calibration chunks")
      ->check(IntegerIn(1, INT32_MAX));
  cmd->add_option("--ctx", flags->n_ctx, "tokens per calibration chunk")
      ->capture_default_str()
      ->check(IntegerIn(16, 1 << 20));
  cmd->add_option("--type", flags->type, "output type or mix: " + MixNames())
      ->capture_default_str();
  cmd->add_flag("--explain", flags->explain,
                "print per pruned tensor the kept fraction and score threshold, and per layer "
                "its influence with --drop-layers");
  cmd->add_flag("--dry-run", flags->dry_run, "print what would be removed and the file size");
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "tokenizer file for llama2.c checkpoints (tok512.bin)");
  cmd->add_option("--threads", flags->threads,
                  "threads for the calibration forward pass (and SparseGPT's row tiles)")
      ->capture_default_str()
      ->check(IntegerIn(1, 1024));
  cmd->add_flag("--allow-long-context", flags->allow_long_context,
                "allow a calibration context past the model's trained context");
  cmd->callback([flags] { FinishCommand(RunPrune(*flags)); });
}

}  // namespace shrink::cli
