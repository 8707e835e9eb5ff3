#include "cli/quantize_calibrated.h"

#include <fmt/format.h>

#include <chrono>

#include "base/progress.h"
#include "eval/text_file.h"
#include "quant/gptq_model.h"

namespace shrink::cli {

Result<Calibration> PrepareCalibration(const CalibratedFlags& flags, const std::string& in_path,
                                       const std::string& text, const Model& model) {
  const Tokenizer& tokenizer = *model.tokenizer;
  if (tokenizer.adds_bos() && tokenizer.bos() < 0) {
    return Status::Errorf("{}: the vocabulary adds BOS but defines no BOS token", in_path);
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

std::string DescribeCalibratedRun(const QuantMethodInfo& method, const CalibratedFlags& flags,
                                  const Calibration& calibration, bool with_imatrix) {
  std::string how;
  if (method.awq) {
    how += fmt::format(
        "AWQ scales searched per layer (α in {} steps, {} rows per matrix) and folded into the "
        "norms and linears, ",
        flags.awq_grid, flags.awq_rows > 0 ? fmt::format("<= {}", flags.awq_rows) : "all");
  }
  if (flags.fold_only) {
    how += "block linears left in F32 (written as F32, the plan's types only steer the search)";
  } else {
    how += method.gptq ? "block linears rounded by GPTQ" : "block linears rounded to nearest";
  }
  if (method.gptq && flags.act_order) how += ", act-order";
  if (method.gptq) how += fmt::format(", percdamp {}", flags.percdamp);
  if (flags.exact_rounding) how += ", exact one-scale steps";
  if (with_imatrix) how += ", block scales weighted by the imatrix";
  return fmt::format("--method {}: {} tokens of {}, {} chunks of {} tokens; layer by layer: {}",
                     method.name, calibration.tokens.size(), flags.calibration_path,
                     calibration.plan.n_chunk, calibration.plan.n_ctx, how);
}

Status RunCalibratedMethod(const QuantMethodInfo& method, const CalibratedFlags& flags,
                           const Calibration& calibration, const QuantPlan& plan, Model& model) {
  ProgressReporter layers(fmt::format("quantize {}", method.name), "layers", model.config.n_layers);
  GptqModelOptions g;
  g.gptq.percdamp = flags.percdamp;
  g.gptq.act_order = flags.act_order;
  g.gptq.exact_scale = flags.exact_rounding;
  g.use_gptq = method.gptq;
  g.awq = method.awq;
  g.awq_alphas = AwqSearchOptions::DefaultAlphaGrid(flags.awq_grid);
  g.awq_max_rows = flags.awq_rows;
  g.fold_only = flags.fold_only;
  g.encoding = flags.exact_rounding ? RowEncoding::kExactScale : RowEncoding::kReference;
  g.threads = flags.threads;
  g.bos = calibration.bos;
  g.on_layer = [&](int done, int) { layers.Update(done); };
  const auto start = std::chrono::steady_clock::now();
  SHRINK_ASSIGN_OR_RETURN(const GptqModelReport report,
                          GptqQuantizeModel(model, plan, calibration.tokens, calibration.plan, g));
  layers.Finish();
  const double seconds = SecondsSince(start);
  std::string awq;
  if (method.awq) {
    awq =
        fmt::format("; AWQ scaled {} of {} groups, search loss {:.4g} vs {:.4g} unscaled ({:.3f}x)",
                    report.awq_scaled, report.awq_groups, report.awq_loss, report.awq_loss_rtn,
                    report.awq_loss_rtn > 0 ? report.awq_loss / report.awq_loss_rtn : 1.0);
  }
  fmt::print(stderr, "quantize: {} quantized {} tensors in {:.2f} s{}{}\n", method.name,
             report.tensors, seconds, awq,
             report.dead_columns > 0 ? fmt::format(" ({} inputs never active: their weights are 0)",
                                                   report.dead_columns)
                                     : "");
  return Status::Ok();
}

}  // namespace shrink::cli
