#include "cli/prune_width.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "base/progress.h"
#include "io/gguf_writer.h"
#include "prune/param_count.h"
#include "prune/pruned_gguf.h"
#include "quant/fallback.h"
#include "quant/plan.h"
#include "quant/quantized_gguf.h"

namespace shrink::cli {
namespace {

// Per-layer FFN widths move in chunks of at least 32 channels, so that the output can later be
// quantized to any block-32 type.
int64_t BudgetFfnMultiple(int64_t multiple) { return std::max<int64_t>(32, multiple); }

}  // namespace

Result<WidthArgs> CheckWidthFlags(const WidthPruneFlags& f, const Config& config,
                                  const QuantMix& mix) {
  WidthArgs a;
  // A quantized mix may fall back from 256-element k-quant blocks to block-32 types
  // (quant/fallback.h), never further: widths must be whole blocks of the smallest of them.
  const TensorType smallest = SmallerBlockType(mix.base).value_or(mix.base);
  a.multiple = Traits(smallest).block_elements;
  SHRINK_ASSIGN_OR_RETURN(
      a.widths, ResolveUniformWidths(config, f.widths, a.multiple, Traits(smallest).name));
  if (!f.target_params.empty()) {
    if (config.architecture != "llama" && config.architecture != "deci") {
      return Status::Errorf(
          "--target-params: per-layer widths load in llama.cpp only for llama models (as "
          "architecture deci); {} takes uniform --ffn/--heads/--kv-heads/--hidden",
          config.architecture);
    }
    SHRINK_ASSIGN_OR_RETURN(a.target_params, ParseParamCount("--target-params", f.target_params));
    const int64_t source = ParamCount(config);
    if (a.target_params >= source) {
      return Status::Errorf("--target-params {}: the model has {} parameters already",
                            f.target_params, source);
    }
    const int64_t hidden = a.widths.hidden > 0 ? a.widths.hidden : config.d_model;
    const int64_t floor = BudgetFloorParams(config, hidden, BudgetFfnMultiple(a.multiple));
    if (a.target_params < floor) {
      return Status::Errorf(
          "--target-params {}: keeping one {}-channel FFN chunk and one key/value group per layer "
          "leaves {} parameters; that is the smallest this width pruning reaches",
          f.target_params, BudgetFfnMultiple(a.multiple), floor);
    }
  }
  return a;
}

Status WriteWidthPruned(const WidthPruneFlags& f, const Model& model,
                        const GgufMetadata& source_metadata,
                        std::span<const TensorView* const> order, const WidthArgs& args,
                        const WidthScores& scores, const QuantMix& mix) {
  const Config& config = model.config;
  WidthPlan plan = UniformWidthPlan(config, scores, args.widths);
  if (args.target_params > 0) {
    SHRINK_ASSIGN_OR_RETURN(plan, BudgetWidthPlan(model, scores, plan, args.target_params,
                                                  BudgetFfnMultiple(args.multiple)));
  }
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> pruned, WidthPrunedModel(model, plan));
  const Config& out = pruned->config;
  const int64_t before = ParamCount(config), after = ParamCount(out);
  fmt::print(stderr, "prune: width {} → {} parameters ({:.2f}% removed): {}\n", before, after,
             100.0 * (before - after) / before, out.Summary());
  if (f.explain || f.dry_run) {
    fmt::print("hidden width {} of {}\n", out.d_model, config.d_model);
    fmt::print("layer  ffn (of)     heads kv (of)   kept kv groups\n");
    for (int l = 0; l < config.n_layers; ++l) {
      fmt::print("blk.{:<3} {:>5} ({:>5})  {:>3} {:>3} ({}/{})  {}\n", l, out.layers[l].ffn_dim,
                 config.layers[l].ffn_dim, out.layers[l].n_heads, out.layers[l].n_kv_heads,
                 config.layers[l].n_heads, config.layers[l].n_kv_heads,
                 fmt::join(plan.kv_heads[l], ","));
    }
  }
  // The pruned tensors in the source's order (names are unchanged).
  std::map<std::string, const TensorView*> by_name;
  pruned->weights.ForEachTensor([&](const TensorView& t) { by_name[t.name] = &t; });
  std::vector<const TensorView*> view_order;
  for (const TensorView* v : order) view_order.push_back(by_name.at(v->name));
  const QuantPlan qplan = PlanQuantization(out, view_order, mix);
  std::vector<PrunedTensor> tensors;
  for (const TensorPlan& t : qplan.tensors) tensors.push_back({t.source, t.type, {}});
  SHRINK_RETURN_IF_ERROR(CheckPrunable(tensors, SparsityTarget{}));
  // From the source's keys (a llama2.c model's include its vocabulary's).
  SHRINK_ASSIGN_OR_RETURN(GgufMetadata metadata, WidthPrunedMetadata(source_metadata, config, out));
  metadata = QuantizedMetadata(metadata, mix);
  metadata.emplace_back("shrink.prune.method", GgufValue::String("width"));
  metadata.emplace_back("shrink.prune.source_params",
                        GgufValue::U64(static_cast<uint64_t>(before)));
  const std::string name = std::filesystem::path(f.calibration).filename().string();
  metadata.emplace_back("shrink.prune.calibration", GgufValue::String(name.substr(0, 127)));
  SHRINK_ASSIGN_OR_RETURN(const uint64_t file_bytes,
                          GgufFileSize(metadata, PrunedTensorDecls(tensors)));
  if (f.dry_run) {
    fmt::print("{} tensors, {} parameters, file {} bytes (dry run: nothing written)\n",
               tensors.size(), after, file_bytes);
    return Status::Ok();
  }
  ProgressReporter progress("prune", "tensors", static_cast<int64_t>(tensors.size()));
  PruneWriteOptions w;
  w.on_tensor_done = [&](size_t i, const TensorPruneStats&) {
    progress.Update(static_cast<int64_t>(i + 1));
  };
  const auto t1 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(WritePrunedGguf(f.out_path, metadata, tensors, w));
  progress.Finish();
  std::string arch;
  for (const auto& [key, value] : metadata) {
    if (key == "general.architecture") arch = value.AsString();
  }
  fmt::print(stderr, "prune: wrote {} ({} bytes, architecture {}) in {:.2f} s\n", f.out_path,
             file_bytes, arch, SecondsSince(t1));
  return Status::Ok();
}

}  // namespace shrink::cli
