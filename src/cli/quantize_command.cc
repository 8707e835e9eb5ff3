// `shrink quantize IN OUT --type T`: re-encodes a model's tensors by a mix (quant/mix.h) and writes
// a GGUF that llama.cpp loads. --explain shows the rule behind every tensor's type, --dry-run the
// plan and the file size without writing, --imatrix weighs the rounding error by an importance
// matrix (quant/importance.h), checked against the model before any work. --target-size /
// --target-bpw replace --type by a size budget: every matrix gets the stock type that minimises
// the total sensitivity proxy under the budget (quant/budget_run.h). --method gptq | awq |
// awq+gptq round the block linears on calibration text (cli/quantize_calibrated.h); the
// calibration is tokenized and checked (long enough for one chunk) before any quantization work.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
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
#include "cli/quantize_calibrated.h"
#include "cli/resources.h"
#include "eval/text_file.h"
#include "io/atomic_file.h"
#include "io/gguf.h"
#include "io/imatrix_file.h"
#include "io/message_text.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "quant/budget_run.h"
#include "quant/importance.h"
#include "quant/method.h"
#include "quant/plan_report.h"
#include "quant/quantized_gguf.h"

namespace shrink::cli {
namespace {

struct QuantizeFlags {
  std::string in_path, out_path, type, tokenizer_path, imatrix_path;
  std::string method = "rtn", calibration_path, rounding = "ggml";
  int32_t n_ctx = 512;
  int32_t max_chunks = -1;
  double percdamp = 0.01;
  int awq_grid = 20;
  int64_t awq_rows = 256;
  bool explain = false, dry_run = false, pure = false, act_order = false;
  bool awq_fold_only = false;  // write the AWQ-scaled model in F32 (a start for QAT)
  std::string target_size, sensitivity_tsv, budget_types;  // size budget (quant/budget_run.h)
  double target_bpw = 0.0;
  int64_t budget_rows = 512;
  std::vector<std::string> tensor_types;  // NAME=TYPE overrides
  std::vector<std::string> role_scales;   // ROLE=FACTOR for the budget's proxy
  int threads = std::max(1u, std::thread::hardware_concurrency());
};

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

bool WantsBudget(const QuantizeFlags& flags) {
  return !flags.target_size.empty() || flags.target_bpw > 0.0;
}

// Exactly one of --type, --target-size, --target-bpw; --pure only with --type.
Status CheckTypeFlags(const QuantizeFlags& flags) {
  const int given = (flags.type.empty() ? 0 : 1) + (flags.target_size.empty() ? 0 : 1) +
                    (flags.target_bpw > 0.0 ? 1 : 0);
  if (given != 1) {
    return Status::Error(
        "quantize needs exactly one of --type T, --target-size SIZE or --target-bpw B (a budget "
        "chooses every matrix's type itself, among all stock types that fit its rows)");
  }
  if (flags.pure && WantsBudget(flags)) return Status::Error("--pure goes with --type only");
  return Status::Ok();
}

Status ApplyTensorTypes(const std::vector<std::string>& specs, QuantPlan& plan) {
  for (const std::string& spec : specs) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::Errorf("--tensor-type '{}': expected NAME=TYPE", spec);
    }
    const TypeTraits* type = FindTypeByName(std::string_view(spec).substr(eq + 1));
    if (type == nullptr || type->encode == nullptr) {
      return Status::Errorf("--tensor-type '{}': '{}' is not a type shrink encodes", spec,
                            spec.substr(eq + 1));
    }
    SHRINK_RETURN_IF_ERROR(OverrideTensorType(plan, spec.substr(0, eq), type->type));
  }
  return Status::Ok();
}

// "Q4_0,IQ4_NL,Q2_K" (commas or spaces) -> the types; empty text -> empty (every type).
Result<std::vector<TensorType>> ParseTypeList(const std::string& text) {
  std::vector<TensorType> out;
  std::string name;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',' && text[i] != ' ') {
      name += text[i];
      continue;
    }
    if (name.empty()) continue;
    const TypeTraits* t = FindTypeByName(name);
    if (t == nullptr || t->encode == nullptr) {
      return Status::Errorf("--budget-types: '{}' is not a type shrink encodes", name);
    }
    out.push_back(t->type);
    name.clear();
  }
  return out;
}

Status WriteText(const std::string& path, const std::string& text) {
  SHRINK_ASSIGN_OR_RETURN(AtomicFileWriter w, AtomicFileWriter::Create(path));
  SHRINK_RETURN_IF_ERROR(
      w.Write(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  return w.Commit();
}

CalibratedFlags CalibratedFlagsOf(const QuantizeFlags& flags) {
  return {.calibration_path = flags.calibration_path,
          .n_ctx = flags.n_ctx,
          .max_chunks = flags.max_chunks,
          .percdamp = flags.percdamp,
          .act_order = flags.act_order,
          .exact_rounding = flags.rounding == "exact",
          .threads = flags.threads,
          .awq_grid = flags.awq_grid,
          .awq_rows = flags.awq_rows,
          .fold_only = flags.awq_fold_only};
}

Status RunQuantize(const QuantizeFlags& flags) {
  SHRINK_RETURN_IF_ERROR(CheckTypeFlags(flags));
  const QuantMix* mix = nullptr;
  uint64_t target_file_bytes = 0;
  if (WantsBudget(flags)) {
    if (!flags.target_size.empty()) {
      SHRINK_ASSIGN_OR_RETURN(target_file_bytes, ParseByteSize(flags.target_size));
    }
  } else {
    SHRINK_ASSIGN_OR_RETURN(mix, FindMix(flags.type));
  }
  if (!flags.sensitivity_tsv.empty()) {
    SHRINK_RETURN_IF_ERROR(CheckOutputFolder(flags.sensitivity_tsv));
  }
  SHRINK_ASSIGN_OR_RETURN(const QuantMethodInfo* method, FindQuantMethod(flags.method));
  if (method->needs_calibration && flags.calibration_path.empty()) {
    return Status::Errorf(
        "--method {} needs calibration text: --calibration FILE (any UTF-8 text, at least --ctx "
        "{} tokens)",
        method->name, flags.n_ctx);
  }
  if (flags.awq_fold_only && method->name != std::string_view("awq")) {
    return Status::Errorf("--awq-fold-only needs --method awq (the method is {})", method->name);
  }
  if (!method->needs_calibration && !flags.calibration_path.empty()) {
    return Status::Errorf(
        "--calibration is only used by the calibrated methods (--method gptq, awq, awq+gptq; the "
        "method is {})",
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
  QuantPlan plan;
  std::optional<BudgetOutcome> budget;
  const auto metadata_for = [&](const QuantPlan& p) {
    GgufMetadata m = QuantizedMetadata(source_metadata, *p.mix);
    if (imatrix) {
      for (auto& kv : ImatrixMetadata(*imatrix, flags.imatrix_path)) m.push_back(std::move(kv));
    }
    return m;
  };
  if (mix != nullptr) {
    // A calibrated method plans like a run with an imatrix (llama-quantize's rules for one), so
    // its file has the size of llama-quantize --imatrix's, the comparison it is measured against.
    plan = PlanQuantization(model->config, order, *mix, flags.pure,
                            imatrix.has_value() || method->needs_calibration);
  } else {
    BudgetRequest request;
    request.target_file_bytes = target_file_bytes;
    request.target_bpw = flags.target_bpw;
    request.imatrix = imatrix ? &*imatrix : nullptr;
    request.imatrix_path = flags.imatrix_path;
    request.sensitivity.max_rows = flags.budget_rows;
    request.sensitivity.threads = flags.threads;
    SHRINK_ASSIGN_OR_RETURN(request.sensitivity.allowed, ParseTypeList(flags.budget_types));
    for (const std::string& spec : flags.role_scales) {
      const size_t eq = spec.find('=');
      char* end = nullptr;
      const double factor =
          eq == std::string::npos ? 0.0 : std::strtod(spec.c_str() + eq + 1, &end);
      if (eq == std::string::npos || end == spec.c_str() + eq + 1 || *end != '\0') {
        return Status::Errorf("--budget-role-scale '{}': expected ROLE=FACTOR, e.g. attn_k=0.1",
                              spec);
      }
      request.role_scales.emplace_back(spec.substr(0, eq), factor);
    }
    std::optional<ProgressReporter> sense;
    request.sensitivity.on_tensor_done = [&](size_t done, size_t total) {
      if (!sense) sense.emplace("sensitivity", "matrices", static_cast<int64_t>(total));
      sense->Update(static_cast<int64_t>(done));
    };
    request.file_size = [&](const QuantPlan& p) { return QuantizedFileSize(metadata_for(p), p); };
    const auto ts = std::chrono::steady_clock::now();
    SHRINK_ASSIGN_OR_RETURN(budget, PlanForBudget(model->config, order, request));
    if (sense) sense->Finish();
    fmt::print(stderr, "quantize: sensitivity of {} matrices in {:.2f} s\n",
               budget->sensitivities.size(), SecondsSince(ts));
    if (!flags.sensitivity_tsv.empty()) {
      SHRINK_RETURN_IF_ERROR(
          WriteText(flags.sensitivity_tsv, SensitivityTsv(budget->sensitivities)));
    }
    plan = std::move(budget->plan);
    mix = plan.mix;
  }
  SHRINK_RETURN_IF_ERROR(ApplyTensorTypes(flags.tensor_types, plan));
  AttachedImportance importance;
  if (imatrix) {
    SHRINK_ASSIGN_OR_RETURN(importance, AttachImatrix(*imatrix, flags.imatrix_path, plan));
  }
  if (!flags.dry_run) SHRINK_RETURN_IF_ERROR(CheckEncodable(plan));
  std::optional<Calibration> calibration;
  if (method->needs_calibration) {
    SHRINK_ASSIGN_OR_RETURN(calibration, PrepareCalibration(CalibratedFlagsOf(flags), flags.in_path,
                                                            calibration_text, *model));
  }
  GgufMetadata metadata = metadata_for(plan);
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
    fmt::print(stderr, "quantize: {}\n",
               DescribeCalibratedRun(*method, CalibratedFlagsOf(flags), *calibration,
                                     imatrix.has_value()));
  }
  if (flags.explain || flags.dry_run) fmt::print("{}", FormatPlanTable(plan, flags.explain));
  fmt::print("{}\n", FormatPlanSummary(plan, file_bytes));
  if (budget) fmt::print("{}", budget->report);
  std::fflush(stdout);
  if (flags.dry_run) return Status::Ok();

  if (calibration) {
    SHRINK_RETURN_IF_ERROR(
        RunCalibratedMethod(*method, CalibratedFlagsOf(flags), *calibration, plan, *model));
  }
  uint64_t written_bytes = file_bytes;
  if (flags.awq_fold_only) {
    // The searched scales are folded into the float views; the file keeps every tensor in F32
    // (the --type plan only chose the grid the search measured error on).
    SHRINK_ASSIGN_OR_RETURN(const QuantMix* f32, FindMix("F32"));
    plan = PlanQuantization(model->config, order, *f32, /*pure=*/true, /*with_imatrix=*/false);
    metadata = QuantizedMetadata(source_metadata, *f32);
    SHRINK_RETURN_IF_ERROR(CheckEncodable(plan));
    SHRINK_ASSIGN_OR_RETURN(written_bytes, QuantizedFileSize(metadata, plan));
    fmt::print(stderr, "quantize: --awq-fold-only: the AWQ-scaled model is written in F32\n");
  }
  ProgressReporter progress("quantize", "tensors", static_cast<int64_t>(plan.tensors.size()));
  QuantizeOptions q;
  q.threads = flags.threads;
  q.encoding = flags.rounding == "exact" ? RowEncoding::kExactScale : RowEncoding::kReference;
  q.on_tensor_done = [&](size_t done, size_t) { progress.Update(static_cast<int64_t>(done)); };
  const auto t1 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(WriteQuantizedGguf(flags.out_path, metadata, plan, q));
  progress.Finish();
  fmt::print(stderr, "quantize: wrote {} ({} bytes) in {:.2f} s with {} threads\n", flags.out_path,
             written_bytes, SecondsSince(t1), flags.threads);
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
  cmd->add_option("--type", flags->type, "type or mix: " + MixNames());
  cmd->add_option("--target-size", flags->target_size,
                  "size budget instead of --type: the whole file at most SIZE (60MB, 58MiB, "
                  "bytes); each matrix gets the stock type (k-quants where rows are a multiple "
                  "of 256, block-32 types, IQ4_NL/XS, F16) that minimises the total "
                  "importance-weighted rounding error (--imatrix; uniform without)");
  cmd->add_option("--target-bpw", flags->target_bpw,
                  "size budget instead of --type: tensor data of at most B bits per weight")
      ->check(CLI::Range(0.01, 64.0));
  cmd->add_option("--budget-rows", flags->budget_rows,
                  "rows per matrix sampled for the budget's sensitivity proxy")
      ->capture_default_str()
      ->check(IntegerIn(1, 1 << 30));
  cmd->add_option("--budget-types", flags->budget_types,
                  "with a budget: only these candidate types (comma-separated, e.g. to leave out "
                  "a type the source's weights sit on exactly)");
  cmd->add_option("--budget-role-scale", flags->role_scales,
                  "ROLE=FACTOR: multiply the budget's proxy of every tensor of ROLE (attn_k=0.1); "
                  "repeatable");
  cmd->add_option("--sensitivity-tsv", flags->sensitivity_tsv,
                  "with a budget: write every matrix's proxy loss per candidate type (TSV)");
  cmd->add_option("--tensor-type", flags->tensor_types,
                  "NAME=TYPE: give one tensor (exact name) TYPE after the plan; repeatable");
  cmd->add_flag("--explain", flags->explain,
                "print every tensor's new type and the rule (and any fallback) that chose it");
  cmd->add_flag("--dry-run", flags->dry_run, "print the plan and the file size; write nothing");
  cmd->add_flag("--pure", flags->pure,
                "no mix rules: every matrix gets the base type (still F32 norms and row-length "
                "fallbacks), as llama-quantize --pure");
  cmd->add_option("--imatrix", flags->imatrix_path,
                  "importance matrix (shrink imatrix or llama-imatrix, GGUF or legacy .dat): "
                  "weighs each tensor's rounding error by its inputs' mean x²");
  cmd->add_option("--rounding", flags->rounding,
                  "ggml: each type's own encoder, byte-identical with llama-quantize; exact: Q4_0, "
                  "Q5_0 and IQ4_NL blocks get the exactly optimal step (formats/exact_scale.h; "
                  "also inside GPTQ)")
      ->check(CLI::IsMember({"ggml", "exact"}));
  cmd->add_option("--method", flags->method,
                  "how codes are chosen: " + QuantMethodNames() +
                      " (gptq: error feedback on calibration text, onto the type's own grid; awq: "
                      "activation-aware channel scales folded into the norms; awq+gptq: both)")
      ->capture_default_str();
  cmd->add_option(
      "--calibration", flags->calibration_path,
      "UTF-8 calibration text for --method gptq, awq, awq+gptq (not the evaluation text)");
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
  cmd->add_option("--awq-grid", flags->awq_grid, "AWQ: α steps in [0, 1] (AWQ's grid is 20)")
      ->capture_default_str()
      ->check(IntegerIn(1, 1000));
  cmd->add_option("--awq-rows", flags->awq_rows,
                  "AWQ: rows per matrix (evenly strided) in the α search's loss; 0: all")
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 30));
  cmd->add_flag("--awq-fold-only", flags->awq_fold_only,
                "with --method awq: fold the scales searched for --type into the model and write "
                "it in F32, unrounded (the same function; a start for quantization-aware "
                "training into --type)");
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "tokenizer file for llama2.c checkpoints (tok512.bin)");
  cmd->add_option("--threads", flags->threads, "threads for encoding (and GPTQ's passes)")
      ->capture_default_str()
      ->check(IntegerIn(1, 1024));
  cmd->callback([flags] { FinishCommand(RunQuantize(*flags)); });
}

}  // namespace shrink::cli
