#include "cli/prune_low_rank.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include "base/progress.h"
#include "calib/calibration_run.h"
#include "calib/hessian.h"
#include "cli/resources.h"
#include "eval/text_file.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "kernels/blas_threads.h"
#include "kernels/matmul.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "model/transformer.h"
#include "prune/low_rank_model.h"
#include "prune/param_count.h"
#include "prune/pruned_gguf.h"
#include "quant/plan.h"
#include "quant/quantized_gguf.h"

namespace shrink::cli {
namespace {

// The output's tensors in the source's order (a GGUF's own, else the tensor table's), a factored
// linear's A and B where the whole matrix stood.
Result<std::vector<const TensorView*>> OutputOrder(const std::string& path, const Model& model,
                                                   const std::vector<std::string>& source_names) {
  std::map<std::string, const TensorView*> by_name;
  model.weights.ForEachTensor([&](const TensorView& v) { by_name[v.name] = &v; });
  std::vector<const TensorView*> out;
  for (const std::string& name : source_names) {
    if (auto it = by_name.find(name); it != by_name.end()) {
      out.push_back(it->second);
      continue;
    }
    auto a = by_name.find(name + ".lr_a");
    auto b = by_name.find(name + ".lr_b");
    if (a == by_name.end() || b == by_name.end()) {
      return Status::Errorf("{}: tensor {} is not one of the model's tensors", path, name);
    }
    out.push_back(a->second);
    out.push_back(b->second);
  }
  return out;
}

Result<std::vector<std::string>> SourceNames(const std::string& path, const Model& model) {
  std::vector<std::string> names;
  if (model.metadata.empty()) {
    model.weights.ForEachTensor([&](const TensorView& v) { names.push_back(v.name); });
    return names;
  }
  SHRINK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  for (const GgufTensorInfo& t : file.tensors()) names.push_back(t.name);
  return names;
}

// The whitening of every site (shared by sites reading one input), from XᵀX over the calibration
// text: one forward pass collecting the Grams of one linear per distinct input.
Result<std::vector<std::shared_ptr<const Whitening>>> Whitenings(
    const LowRankPruneFlags& f, const Model& model, std::span<const LowRankSite> sites) {
  SHRINK_ASSIGN_OR_RETURN(const std::string text, ReadUtf8TextFile(f.calibration));
  const Config& c = model.config;
  SHRINK_RETURN_IF_ERROR(CheckTrainedContext(fmt::format("--ctx {}", f.n_ctx), f.n_ctx,
                                             c.context_length, f.allow_long_context));
  const Tokenizer& tokenizer = *model.tokenizer;
  if (tokenizer.adds_bos() && tokenizer.bos() < 0) {
    return Status::Errorf("{}: the vocabulary adds BOS but defines no BOS token", f.in_path);
  }
  const std::vector<TokenId> tokens = tokenizer.Encode(StripOneTrailingNewline(text),
                                                       /*add_special=*/true,
                                                       /*parse_special=*/false);
  SHRINK_ASSIGN_OR_RETURN(
      const CalibrationPlan plan,
      PlanCalibration(tokens.size(), f.n_ctx, f.max_chunks).WithContext(f.calibration));
  fmt::print(stderr, "prune: input Grams over {} chunks of {} tokens of {}\n", plan.n_chunk,
             plan.n_ctx, f.calibration);
  SetMatMulThreads(f.threads);
  HessianCollector grams([](int layer, TensorRole role) {
    return layer >= 0 && SharedInputRole(role) == role && Factorable(SpecOf(role));
  });
  {
    const PreparedModel prepared(model);
    InferenceSession session(prepared, plan.n_ctx);
    session.SetObserver(&grams);
    ProgressReporter progress("prune: calibration", "chunks", plan.n_chunk);
    CalibrationOptions run;
    run.bos = tokenizer.adds_bos() ? tokenizer.bos() : -1;
    run.on_chunk = [&](int32_t done) { progress.Update(done); };
    SHRINK_RETURN_IF_ERROR(
        RunCalibration(session, c.vocab_size, tokens, plan, run).WithContext(f.calibration));
    progress.Finish();
  }
  std::map<std::string, std::shared_ptr<const Whitening>> by_input;
  std::vector<std::shared_ptr<const Whitening>> out;
  for (const LowRankSite& s : sites) {
    const std::string input = TensorName(SharedInputRole(s.role), s.layer);
    auto it = by_input.find(input);
    if (it == by_input.end()) {
      const GramEntry* e = grams.Find(input);
      if (e == nullptr || e->cols != s.cols) {
        return Status::Errorf("{}: no calibration statistics for its input", input);
      }
      SHRINK_ASSIGN_OR_RETURN(Whitening w, WhiteningFromGram(e->xtx, e->cols).WithContext(input));
      it = by_input.emplace(input, std::make_shared<const Whitening>(std::move(w))).first;
    }
    out.push_back(it->second);
  }
  return out;
}

void AddLowRankMetadata(GgufMetadata& m, const LowRankPruneFlags& f,
                        const std::vector<std::string>& factored) {
  m.emplace_back(std::string(kLowRankVersionKey), GgufValue::U32(kLowRankVersion));
  GgufArray names(GgufValueType::kString);
  for (const std::string& n : factored) names.Push(GgufValue::String(n));
  m.emplace_back(std::string(kLowRankTensorsKey), GgufValue::Array(std::move(names)));
  m.emplace_back("shrink.prune.method", GgufValue::String("svd"));
  if (f.rank_ratio) {
    m.emplace_back("shrink.prune.rank_ratio", GgufValue::F32(static_cast<float>(*f.rank_ratio)));
  }
  if (!f.calibration.empty()) {
    const std::string name = std::filesystem::path(f.calibration).filename().string();
    m.emplace_back("shrink.prune.calibration", GgufValue::String(name.substr(0, 127)));
  }
}

}  // namespace

Status RunLowRankPrune(const LowRankPruneFlags& f) {
  if (f.rank_ratio.has_value() == !f.target_params.empty()) {
    return Status::Error("--method svd needs exactly one of --rank-ratio R or --target-params N");
  }
  if (f.rank_ratio) SHRINK_RETURN_IF_ERROR(CheckRankRatio(*f.rank_ratio));
  int64_t target = 0;
  if (!f.target_params.empty()) {
    SHRINK_ASSIGN_OR_RETURN(target, ParseParamCount("--target-params", f.target_params));
  }
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(f.type));
  if (!f.dry_run) {
    if (f.out_path.empty()) return Status::Error("prune needs an output path (or --dry-run)");
    SHRINK_RETURN_IF_ERROR(CheckOutputFolder(f.out_path));
  }
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions options;
  options.tokenizer_path = f.tokenizer_path;
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(f.in_path, options));
  SHRINK_ASSIGN_OR_RETURN(const std::vector<std::string> source_names,
                          SourceNames(f.in_path, *model));
  GgufMetadata metadata = model->metadata;
  if (metadata.empty()) {
    SHRINK_ASSIGN_OR_RETURN(metadata, Llama2cGgufMetadata(*model));
  }
  // Factor B's rows are r long: r must be whole blocks of the output type.
  const int64_t multiple = Traits(mix->base).block_elements;
  const std::vector<LowRankSite> sites = LowRankSites(model->weights);
  // Checked before any output line, so that bad input gives exactly one.
  if (!f.rank_ratio) {
    SHRINK_RETURN_IF_ERROR(CheckTargetParams(model->weights, sites, target, multiple));
  }
  fmt::print(stderr, "prune: {}: {} loaded in {:.2f} s\n", f.in_path, model->config.Summary(),
             SecondsSince(t0));

  const int64_t before = ParameterCount(model->weights);
  std::vector<std::shared_ptr<const Whitening>> whitening_owned;
  if (!f.calibration.empty()) {
    SHRINK_ASSIGN_OR_RETURN(whitening_owned, Whitenings(f, *model, sites));
  }
  std::vector<const Whitening*> whitening;
  for (const auto& w : whitening_owned) whitening.push_back(w.get());
  ScopedBlasThreads blas(f.threads);
  std::vector<int64_t> ranks;
  if (f.rank_ratio) {
    ranks = RanksFromRatio(sites, *f.rank_ratio, multiple);
  } else {
    ProgressReporter progress("prune: singular values", "tensors",
                              static_cast<int64_t>(sites.size()));
    SHRINK_ASSIGN_OR_RETURN(
        const RankPlan plan,
        RanksForTargetParams(
            model->weights, sites, target, multiple,
            [&](size_t i) { progress.Update(static_cast<int64_t>(i + 1)); }, whitening));
    progress.Finish();
    ranks = plan.ranks;
  }
  int64_t saved = 0;
  std::vector<std::string> factored;
  for (size_t i = 0; i < sites.size(); ++i) {
    if (ranks[i] == 0) continue;
    saved += sites[i].rows * sites[i].cols - ranks[i] * (sites[i].rows + sites[i].cols);
    factored.push_back(TensorName(sites[i].role, sites[i].layer));
  }
  fmt::print(stderr,
             "prune: svd factors {} of {} linears inside the blocks: {} → {} parameters "
             "({:.2f}% removed), factors in {}\n",
             factored.size(), sites.size(), before, before - saved,
             100.0 * static_cast<double>(saved) / static_cast<double>(before), mix->name);
  if (f.explain || f.dry_run) {
    fmt::print("per linear: rank kept of full rank, parameters (whole → factored){}:\n",
               f.dry_run ? "" : ", discarded energy Σ_{i>r}σ²/Σσ²");
  }
  if (f.dry_run) {
    for (size_t i = 0; i < sites.size(); ++i) {
      const LowRankSite& s = sites[i];
      fmt::print("  {:<28} rank {:>5} of {:<5} {:>9} → {:>9}\n", TensorName(s.role, s.layer),
                 ranks[i] == 0 ? std::min(s.rows, s.cols) : ranks[i], std::min(s.rows, s.cols),
                 s.rows * s.cols, ranks[i] == 0 ? s.rows * s.cols : ranks[i] * (s.rows + s.cols));
    }
    fmt::print("{} parameters → {} (dry run: nothing written)\n", before, before - saved);
    return Status::Ok();
  }

  ProgressReporter progress("prune: svd", "tensors", static_cast<int64_t>(sites.size()));
  SHRINK_RETURN_IF_ERROR(ApplyLowRank(
      model->weights, sites, ranks,
      [&](size_t i, const LowRankSiteResult& r) {
        if (f.explain && r.rank > 0) {
          const LowRankSite& s = sites[i];
          fmt::print("  {:<28} rank {:>5} of {:<5} {:>9} → {:>9}  energy {:.6f}\n",
                     TensorName(s.role, s.layer), r.rank, std::min(s.rows, s.cols), s.rows * s.cols,
                     r.rank * (s.rows + s.cols), r.discarded_energy);
        }
        progress.Update(static_cast<int64_t>(i + 1));
      },
      whitening));
  progress.Finish();

  SHRINK_ASSIGN_OR_RETURN(const std::vector<const TensorView*> order,
                          OutputOrder(f.in_path, *model, source_names));
  const QuantPlan plan = PlanQuantization(model->config, order, *mix);
  std::vector<PrunedTensor> tensors;
  for (const TensorPlan& t : plan.tensors) tensors.push_back({t.source, t.type, {}});
  SHRINK_RETURN_IF_ERROR(CheckPrunable(tensors, {}));
  metadata = QuantizedMetadata(metadata, *mix);
  AddLowRankMetadata(metadata, f, factored);
  SHRINK_ASSIGN_OR_RETURN(const uint64_t file_bytes,
                          GgufFileSize(metadata, PrunedTensorDecls(tensors)));
  const auto t1 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(WritePrunedGguf(f.out_path, metadata, tensors, {}));
  fmt::print(stderr, "prune: wrote {} ({} bytes; runs in shrink only, not llama.cpp) in {:.2f} s\n",
             f.out_path, file_bytes, SecondsSince(t1));
  return Status::Ok();
}

}  // namespace shrink::cli
