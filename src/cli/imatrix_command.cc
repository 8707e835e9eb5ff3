// `shrink imatrix -m MODEL -f TEXT -o FILE`: llama-imatrix's importance matrix (per-column Σx² of
// every linear input, calib/imatrix.h) over calibration text cut into chunks as llama-imatrix cuts
// it (calib/calibration_run.h), written in either of llama.cpp's imatrix formats
// (io/imatrix_file.h), atomically: an interrupted run leaves no file.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "base/progress.h"
#include "calib/calibration_run.h"
#include "calib/imatrix.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "eval/text_file.h"
#include "io/imatrix_file.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "model/transformer.h"

namespace shrink::cli {
namespace {

struct ImatrixFlags {
  std::string model_path, text_path, out_path, tokenizer_path, format;
  int32_t n_ctx = 512;
  int32_t max_chunks = -1;
  int threads = std::max(1u, std::thread::hardware_concurrency());
  bool process_output = false;
  bool allow_long_context = false;
};

// --format, or else the output's extension: ".dat" is the legacy format, anything else GGUF
// (llama-imatrix's default).
ImatrixFormat OutputFormat(const ImatrixFlags& flags) {
  if (!flags.format.empty())
    return flags.format == "dat" ? ImatrixFormat::kDat : ImatrixFormat::kGguf;
  return std::string_view(flags.out_path).ends_with(".dat") ? ImatrixFormat::kDat
                                                            : ImatrixFormat::kGguf;
}

Status CheckResources(const ImatrixFlags& flags, const Config& c) {
  const std::string what = fmt::format("--ctx {}", flags.n_ctx);
  SHRINK_RETURN_IF_ERROR(
      CheckTrainedContext(what, flags.n_ctx, c.context_length, flags.allow_long_context));
  const SessionMemory m = InferenceSession::EstimateMemory(c, flags.n_ctx, flags.n_ctx);
  const Allocation allocations[] = {
      {fmt::format("attention probabilities ({} heads × {} × {} floats)", c.n_heads, flags.n_ctx,
                   flags.n_ctx),
       m.attention_probs},
      {fmt::format("KV cache ({} layers × {} positions)", c.n_layers, flags.n_ctx), m.kv_cache},
      {"activations", m.activations},
      {fmt::format("logits ({} × {} floats)", flags.process_output ? flags.n_ctx : 1, c.vocab_size),
       4.0 * (flags.process_output ? flags.n_ctx : 1) * c.vocab_size}};
  return CheckFitsInMemory(what, allocations);
}

Status RunImatrix(const ImatrixFlags& flags) {
  // Cheap checks first: the output folder and the text, before a large model is loaded.
  SHRINK_RETURN_IF_ERROR(CheckOutputFolder(flags.out_path));
  SHRINK_ASSIGN_OR_RETURN(const std::string text, ReadUtf8TextFile(flags.text_path));
  if (StripOneTrailingNewline(text).empty()) {
    return Status::Errorf("{}: the text is empty; the imatrix needs at least --ctx ({}) tokens",
                          flags.text_path, flags.n_ctx);
  }
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions options;
  options.tokenizer_path = flags.tokenizer_path;
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(flags.model_path, options));
  SHRINK_RETURN_IF_ERROR(CheckResources(flags, model->config));
  const Tokenizer& tokenizer = *model->tokenizer;
  if (tokenizer.adds_bos() && tokenizer.bos() < 0) {
    return Status::Errorf("{}: the vocabulary adds BOS but defines no BOS token", flags.model_path);
  }
  // As llama-imatrix: one trailing newline dropped, special tokens added, special texts not parsed.
  const std::vector<TokenId> tokens = tokenizer.Encode(
      StripOneTrailingNewline(text), /*add_special=*/true, /*parse_special=*/false);
  SHRINK_ASSIGN_OR_RETURN(
      const CalibrationPlan plan,
      PlanCalibration(tokens.size(), flags.n_ctx, flags.max_chunks).WithContext(flags.text_path));
  fmt::print(stderr, "imatrix: {}: {} loaded, {} tokens in {} ({:.2f} s)\n", flags.model_path,
             model->config.Summary(), tokens.size(), flags.text_path, SecondsSince(t0));
  fmt::print(stderr, "imatrix: computing over {} chunks of {} tokens{}\n", plan.n_chunk, plan.n_ctx,
             flags.process_output ? ", output.weight included" : "");

  SetMatMulThreads(flags.threads);
  const PreparedModel prepared(*model);
  InferenceSession session(prepared, plan.n_ctx);
  ImatrixCollector collector(flags.process_output ? LinearFilter(AllLinears)
                                                  : LinearFilter(BlockLinears));
  session.SetObserver(&collector);
  ProgressReporter progress("imatrix", "chunks", plan.n_chunk);
  CalibrationOptions run;
  run.bos = tokenizer.adds_bos() ? tokenizer.bos() : -1;
  run.all_logits = flags.process_output;
  run.on_chunk = [&](int32_t done) { progress.Update(done); };
  const auto t1 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(RunCalibration(session, model->config.vocab_size, tokens, plan, run)
                             .WithContext(flags.text_path));
  progress.Finish();

  const ImatrixFormat format = OutputFormat(flags);
  const ImatrixData data = ToImatrixData(collector, {flags.text_path}, plan.n_chunk, plan.n_ctx);
  SHRINK_RETURN_IF_ERROR(WriteImatrixFile(flags.out_path, data, format));
  fmt::print(stderr,
             "imatrix: wrote {} ({} format, {} tensors, {} chunks of {} tokens) in {:.2f} s\n",
             flags.out_path, ImatrixFormatName(format), data.tensors.size(), plan.n_chunk,
             plan.n_ctx, SecondsSince(t1));
  return Status::Ok();
}

}  // namespace

void AddImatrixCommand(CLI::App& app) {
  auto flags = std::make_shared<ImatrixFlags>();
  CLI::App* cmd = app.add_subcommand(
      "imatrix",
      "Importance matrix for quantize --imatrix: per-column mean of x² of every linear input over "
      "calibration text, in llama-imatrix's GGUF or legacy .dat format");
  cmd->add_option("-m,--model", flags->model_path, "model file (GGUF or llama2.c .bin)")
      ->required();
  cmd->add_option("-f,--file", flags->text_path, "UTF-8 calibration text")->required();
  cmd->add_option("-o,--output", flags->out_path, "imatrix file to write")->required();
  cmd->add_option("--ctx", flags->n_ctx, "tokens per chunk")
      ->capture_default_str()
      ->check(IntegerIn(16, 1 << 20));
  cmd->add_option("--chunks", flags->max_chunks, "use only the first N chunks (default: all)")
      ->check(IntegerIn(1, INT32_MAX));
  cmd->add_option("--format", flags->format,
                  "gguf or dat (llama.cpp's legacy format); default: dat for a .dat output, else "
                  "gguf")
      ->check(CLI::IsMember({"gguf", "dat"}));
  cmd->add_flag("--process-output", flags->process_output,
                "also collect the output projection's input (output.weight), as llama-imatrix "
                "--process-output");
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "tokenizer file for llama2.c checkpoints (tok512.bin)");
  cmd->add_option("--threads", flags->threads, "threads for the forward pass")
      ->capture_default_str()
      ->check(IntegerIn(1, 1024));
  cmd->add_flag("--allow-long-context", flags->allow_long_context,
                "allow a context past the model's trained context");
  cmd->callback([flags] { FinishCommand(RunImatrix(*flags)); });
}

}  // namespace shrink::cli
