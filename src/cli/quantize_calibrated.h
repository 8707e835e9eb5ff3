// The calibrated methods of `shrink quantize` (--method gptq | awq | awq+gptq, quant/method.h):
// the calibration text as chunks of tokens, checked before any work, and the layer-by-layer run
// (quant/gptq_model.h) that leaves every block linear of the plan quantized in the model's views
// for the writer to copy. Kept apart from quantize_command.cc, which parses the flags and writes.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "calib/calibration_run.h"
#include "model/model.h"
#include "quant/method.h"
#include "quant/plan.h"

namespace shrink::cli {

struct CalibratedFlags {
  std::string calibration_path;
  int32_t n_ctx = 512;
  int32_t max_chunks = -1;      // -1: every chunk of the text
  double percdamp = 0.01;       // GPTQ damping
  bool act_order = false;       // GPTQ column order
  bool exact_rounding = false;  // --rounding exact: exact steps in GPTQ and the encoder
  int threads = 1;
  int awq_grid = 20;       // α steps in [0, 1]
  int64_t awq_rows = 256;  // rows per matrix in the α search (0: all)
  bool fold_only = false;  // --awq-fold-only: AWQ scales folded, linears left in F32
};

// The calibration text as tokens, cut into chunks: errors (empty or too short a text, naming the
// tokens one chunk needs) come before any quantization work.
struct Calibration {
  std::vector<TokenId> tokens;
  CalibrationPlan plan;
  TokenId bos = -1;
};

// `text` is the file's content (UTF-8 checked); `in_path` names the model in errors.
Result<Calibration> PrepareCalibration(const CalibratedFlags& flags, const std::string& in_path,
                                       const std::string& text, const Model& model);

// One line for stderr saying what the run will do ("--method awq+gptq: 8192 tokens of ...").
std::string DescribeCalibratedRun(const QuantMethodInfo& method, const CalibratedFlags& flags,
                                  const Calibration& calibration, bool with_imatrix);

// Runs the method over the model (progress per layer on stderr, then a summary line).
// REQUIRES: method.needs_calibration; `plan` made for `model` and encodable.
Status RunCalibratedMethod(const QuantMethodInfo& method, const CalibratedFlags& flags,
                           const Calibration& calibration, const QuantPlan& plan, Model& model);

}  // namespace shrink::cli
