// `shrink quantize IN OUT --type T`: re-encodes a model's tensors by a mix (quant/mix.h) and writes
// a GGUF that llama.cpp loads. --explain shows the rule behind every tensor's type, --dry-run the
// plan and the file size without writing, --imatrix weighs the rounding error by an importance
// matrix (quant/importance.h), checked against the model before any work. --method gptq rounds the
// block linears by GPTQ on calibration text (quant/gptq_model.h); the calibration is tokenized and
// checked (long enough for one chunk) before any quantization work.
#include <fmt/format.h>

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
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "eval/text_file.h"
#include "io/gguf.h"
#include "io/imatrix_file.h"
#include "io/message_text.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "quant/gptq_model.h"
#include "quant/importance.h"
#include "quant/method.h"
#include "quant/plan_report.h"
#include "quant/quantized_gguf.h"

namespace shrink::cli {
namespace {

struct QuantizeFlags {
  std::string in_path, out_path, type, tokenizer_path, imatrix_path;
  std::string method = "rtn", calibration_path;
  int32_t n_ctx = 512;
  int32_t max_chunks = -1;
  double percdamp = 0.01;
  bool explain = false, dry_run = false, pure = false, act_order = false;
  int threads = std::max(1u, std::thread::hardware_concurrency());
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A file without the GGUF magic is read as a llama2.c checkpoint, whose header has no magic of its
// own; a text file given by mistake then fails on nonsense dimensions. Say how it was read.
Status NotAModelContext(const std::string& path, const Status& error) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  if (in.read(magic, 4) && std::string_view(magic, 4) == "GGUF") return error;
  return error.WithContext(
      fmt::format("{} has no GGUF magic, so it was read as a llama2.c checkpoint", path));
}

// "210 Q4_1, 61 F32, 1 Q8_0": the stored types of the plan's tensors.
std::string SourceTypes(const QuantPlan& plan, bool* quantized) {
  std::map<uint32_t, int> counts;
  *quantized = false;
  for (const TensorPlan& t : plan.tensors) {
    ++counts[static_cast<uint32_t>(t.source->type)];
    *quantized |= Traits(t.source->type).block_elements > 1;
  }
  std::string out;
  for (const auto& [id, n] : counts) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", n, FindType(id)->name);
  }
  return out;
}

// The tensors in the order the output gets them: a GGUF source's own order (so that a mix which
// keeps every type rewrites the file byte for byte), else the tensor table's.
Result<std::vector<const TensorView*>> OutputOrder(const std::string& path, const Model& model,
                                                   bool* from_gguf) {
  *from_gguf = !model.metadata.empty();
  if (!*from_gguf) return TensorsInTableOrder(model.weights);
  SHRINK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  std::vector<std::string> names;
  for (const GgufTensorInfo& t : file.tensors()) names.push_back(t.name);
  return TensorsInOrder(model.weights, names).WithContext(path);
}

void PrintImatrixSummary(const std::string& path, const ImatrixData& imatrix,
                         const AttachedImportance& a) {
  fmt::print(
      stderr,
      "quantize: imatrix {} ({}, {} entries, {} chunks{}{}): weighs {} tensors; {} others "
      "match but their type has no importance-weighted encoder; {} have no entry\n",
      path, ImatrixFormatName(imatrix.format), imatrix.tensors.size(), imatrix.chunk_count,
      imatrix.chunk_size > 0 ? fmt::format(" of {} tokens", imatrix.chunk_size) : "",
      imatrix.datasets.empty() ? "" : fmt::format(", from {}", ForMessage(imatrix.datasets[0])),
      a.used, a.type_unweighted, a.no_entry);
  if (a.unused_entries > 0) {
    fmt::print(stderr, "quantize: {} entries of {} name no tensor that is re-encoded\n",
               a.unused_entries, path);
  }
}

// The calibration text as tokens, cut into chunks: errors (empty or too short a text, naming the
// tokens one chunk needs) come before any quantization work.
struct Calibration {
  std::vector<TokenId> tokens;
  CalibrationPlan plan;
  TokenId bos = -1;
};

Result<Calibration> PrepareCalibration(const QuantizeFlags& flags, const std::string& text,
                                       const Model& model) {
  const Tokenizer& tokenizer = *model.tokenizer;
  if (tokenizer.adds_bos() && tokenizer.bos() < 0) {
    return Status::Errorf("{}: the vocabulary adds BOS but defines no BOS token", flags.in_path);
  }
  Calibration c;
  // As shrink imatrix (and llama-imatrix): one trailing newline dropped, special tokens added.
  c.tokens = tokenizer.Encode(StripOneTrailingNewline(text), /*add_special=*/true,
                              /*parse_special=*/false);
  SHRINK_ASSIGN_OR_RETURN(c.plan, PlanCalibration(c.tokens.size(), flags.n_ctx, flags.max_chunks)
                                      .WithContext(flags.calibration_path));
  c.bos = tokenizer.adds_bos() ? tokenizer.bos() : -1;
  return c;
}

Status RunQuantize(const QuantizeFlags& flags) {
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(flags.type));
  SHRINK_ASSIGN_OR_RETURN(const QuantMethodInfo* method, FindQuantMethod(flags.method));
  if (method->needs_calibration && flags.calibration_path.empty()) {
    return Status::Errorf(
        "--method {} needs calibration text: --calibration FILE (any UTF-8 text, at least --ctx "
        "{} tokens)",
        method->name, flags.n_ctx);
  }
  if (!method->needs_calibration && !flags.calibration_path.empty()) {
    return Status::Errorf("--calibration is only used by --method gptq (the method is {})",
                          method->name);
  }
  std::string calibration_text;
  if (method->needs_calibration) {
    SHRINK_ASSIGN_OR_RETURN(calibration_text, ReadUtf8TextFile(flags.calibration_path));
    if (StripOneTrailingNewline(calibration_text).empty()) {
      return Status::Errorf("{}: the text is empty; --method {} needs at least --ctx ({}) tokens",
                            flags.calibration_path, method->name, flags.n_ctx);
    }
  }
  if (!flags.dry_run) {
    if (flags.out_path.empty())
      return Status::Error("quantize needs an output path (or --dry-run)");
    SHRINK_RETURN_IF_ERROR(CheckOutputFolder(flags.out_path));
  }
  // The imatrix is read (and validated as a file) before the model is loaded.
  std::optional<ImatrixData> imatrix;
  if (!flags.imatrix_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(imatrix, ReadImatrixFile(flags.imatrix_path));
  }
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions options;
  options.tokenizer_path = flags.tokenizer_path;
  Result<std::unique_ptr<Model>> loaded = LoadModel(flags.in_path, options);
  if (!loaded.ok()) return NotAModelContext(flags.in_path, loaded.status());
  std::unique_ptr<Model> model = std::move(loaded).value();
  bool from_gguf = false;
  SHRINK_ASSIGN_OR_RETURN(std::vector<const TensorView*> order,
                          OutputOrder(flags.in_path, *model, &from_gguf));
  GgufMetadata source_metadata = model->metadata;
  if (!from_gguf) {
    // A llama2.c checkpoint has no metadata: the architecture keys come from its Config and the
    // tokenizer keys from its tokenizer file.
    SHRINK_ASSIGN_OR_RETURN(source_metadata, Llama2cGgufMetadata(*model));
  }
  // A calibrated method plans like a run with an imatrix (llama-quantize's rules for one), so its
  // file has the size of llama-quantize --imatrix's, the comparison it is measured against.
  QuantPlan plan = PlanQuantization(model->config, order, *mix, flags.pure,
                                    imatrix.has_value() || method->needs_calibration);
  AttachedImportance importance;
  if (imatrix) {
    SHRINK_ASSIGN_OR_RETURN(importance, AttachImatrix(*imatrix, flags.imatrix_path, plan));
  }
  if (!flags.dry_run) SHRINK_RETURN_IF_ERROR(CheckEncodable(plan));
  std::optional<Calibration> calibration;
  if (method->needs_calibration) {
    SHRINK_ASSIGN_OR_RETURN(calibration, PrepareCalibration(flags, calibration_text, *model));
  }
  GgufMetadata metadata = QuantizedMetadata(source_metadata, *mix);
  if (imatrix) {
    for (auto& kv : ImatrixMetadata(*imatrix, flags.imatrix_path))
      metadata.push_back(std::move(kv));
  }
  SHRINK_ASSIGN_OR_RETURN(const uint64_t file_bytes, QuantizedFileSize(metadata, plan));

  bool quantized_source = false;
  const std::string source_types = SourceTypes(plan, &quantized_source);
  fmt::print(stderr, "quantize: {}: {} ({}) loaded in {:.2f} s\n", flags.in_path,
             model->config.Summary(), source_types, SecondsSince(t0));
  if (quantized_source) {
    fmt::print(stderr,
               "quantize: the source is quantized: tensors that change type are decoded to F32 "
               "(formats table decode, exact) and re-encoded; tensors that keep their type are "
               "copied\n");
  }
  if (imatrix) PrintImatrixSummary(flags.imatrix_path, *imatrix, importance);
  if (calibration) {
    fmt::print(stderr,
               "quantize: --method {}: {} tokens of {}, {} chunks of {} tokens; block linears "
               "rounded by GPTQ layer by layer{}{}\n",
               method->name, calibration->tokens.size(), flags.calibration_path,
               calibration->plan.n_chunk, calibration->plan.n_ctx,
               flags.act_order ? ", act-order" : "",
               imatrix ? ", block scales weighted by the imatrix" : "");
  }
  if (flags.explain || flags.dry_run) fmt::print("{}", FormatPlanTable(plan, flags.explain));
  fmt::print("{}\n", FormatPlanSummary(plan, file_bytes));
  std::fflush(stdout);
  if (flags.dry_run) return Status::Ok();

  if (calibration) {
    ProgressReporter layers("quantize gptq", "layers", model->config.n_layers);
    GptqModelOptions g;
    g.gptq.percdamp = flags.percdamp;
    g.gptq.act_order = flags.act_order;
    g.threads = flags.threads;
    g.bos = calibration->bos;
    g.on_layer = [&](int done, int) { layers.Update(done); };
    const auto tg = std::chrono::steady_clock::now();
    SHRINK_ASSIGN_OR_RETURN(
        const GptqModelReport report,
        GptqQuantizeModel(*model, plan, calibration->tokens, calibration->plan, g));
    layers.Finish();
    fmt::print(
        stderr, "quantize: GPTQ quantized {} tensors in {:.2f} s{}\n", report.tensors,
        SecondsSince(tg),
        report.dead_columns > 0
            ? fmt::format(" ({} inputs never active: their weights are 0)", report.dead_columns)
            : "");
  }
  ProgressReporter progress("quantize", "tensors", static_cast<int64_t>(plan.tensors.size()));
  QuantizeOptions q;
  q.threads = flags.threads;
  q.on_tensor_done = [&](size_t done, size_t) { progress.Update(static_cast<int64_t>(done)); };
  const auto t1 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(WriteQuantizedGguf(flags.out_path, metadata, plan, q));
  progress.Finish();
  fmt::print(stderr, "quantize: wrote {} ({} bytes) in {:.2f} s with {} threads\n", flags.out_path,
             file_bytes, SecondsSince(t1), flags.threads);
  return Status::Ok();
}

}  // namespace

void AddQuantizeCommand(CLI::App& app) {
  auto flags = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Quantize a model to a GGUF type or llama.cpp mix (Q4_K_M, Q8_0, ...): per-tensor types from "
      "a rule table keyed by tensor role and layer");
  cmd->add_option("input", flags->in_path, "model file (GGUF, or llama2.c .bin with --tokenizer)")
      ->required();
  cmd->add_option("output", flags->out_path, "GGUF file to write (not needed with --dry-run)");
  cmd->add_option("--type", flags->type, "type or mix: " + MixNames())->required();
  cmd->add_flag("--explain", flags->explain,
                "print every tensor's new type and the rule (and any fallback) that chose it");
  cmd->add_flag("--dry-run", flags->dry_run, "print the plan and the file size; write nothing");
  cmd->add_flag("--pure", flags->pure,
                "no mix rules: every matrix gets the base type (still F32 norms and row-length "
                "fallbacks), as llama-quantize --pure");
  cmd->add_option("--imatrix", flags->imatrix_path,
                  "importance matrix (shrink imatrix or llama-imatrix, GGUF or legacy .dat): "
                  "weighs each tensor's rounding error by its inputs' mean x²");
  cmd->add_option("--method", flags->method,
                  "how codes are chosen: " + QuantMethodNames() +
                      " (gptq: error feedback on calibration text, onto the type's own grid)")
      ->capture_default_str();
  cmd->add_option("--calibration", flags->calibration_path,
                  "UTF-8 calibration text for --method gptq (not the evaluation text)");
  cmd->add_option("--ctx", flags->n_ctx, "calibration tokens per chunk")
      ->capture_default_str()
      ->check(IntegerIn(16, 1 << 20));
  cmd->add_option("--chunks", flags->max_chunks,
                  "use only the first N calibration chunks (default: all)")
      ->check(IntegerIn(1, INT32_MAX));
  cmd->add_flag("--act-order", flags->act_order,
                "GPTQ: quantize columns by decreasing input energy (diag H)");
  cmd->add_option("--percdamp", flags->percdamp,
                  "GPTQ: damping, as a fraction of the Hessian's mean diagonal")
      ->capture_default_str()
      ->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "tokenizer file for llama2.c checkpoints (tok512.bin)");
  cmd->add_option("--threads", flags->threads, "threads for encoding (and GPTQ's passes)")
      ->capture_default_str()
      ->check(IntegerIn(1, 1024));
  cmd->callback([flags] { FinishCommand(RunQuantize(*flags)); });
}

}  // namespace shrink::cli
