// Per-tensor sensitivity for size budgets (quantize --target-size / --target-bpw, quant/budget.h):
// for each matrix and each type it could get, a cheap proxy of the loss of quantizing only that
// tensor to that type.
//
// The proxy is the importance-weighted squared rounding error of the tensor,
//   loss(t, T) = Σ_rows Σ_j imp_j · (w_rj − ŵ_rj)²,   ŵ = decode(encode_T(w)),
// where imp_j is the imatrix's mean x² of input column j (quantize --imatrix). For a linear layer
// y = x·Wᵀ this is the expected squared change of its outputs per token, E‖x·ΔWᵀ‖², if the input
// columns were uncorrelated: the first-order size of the perturbation the tensor adds. Without an
// imatrix every imp_j = 1 (the plain squared error). A tensor the imatrix has no entry for (the
// token embedding; the output projection unless the imatrix was made with --process-output)
// gets uniform weights at the imatrix's mean value over all entries, so that it sits on the
// scale of an average linear input. bench/budget_sensitivity_rank.sh measures how well this ranks
// like the model's real KLD (BENCHMARKS.md).
//
// Encoding uses the type's importance-weighted encoder when importance is given, the tensor will
// be written with it (`weighted_encoding`: false for a tied token_embd weighed by output.weight's
// entry, which quantize --imatrix does not encode with, as llama-quantize does not) and the type
// has one; else its plain encoder: the proxy measures the bytes quantize will write. Rows are sampled with a fixed stride
// (at most `max_rows` of them) and the sum is scaled by rows / sampled rows: rows are encoded
// independently, so this is an unbiased estimate, and the result is the same for any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "formats/types.h"
#include "model/weights.h"

namespace shrink {

// The types a budget may give a row of `row_length`: every type of the formats table with an
// encoder whose block divides the row (the k-quants and IQ4_XS need row_length % 256 == 0; the
// block-32 types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL need % 32), and F16 as the near-lossless
// top; not F32, BF16 (F16 is as good for a budget and half of F32) nor Q8_K (no ggml matmul).
// All of them are types stock llama.cpp runs for every tensor role. Ordered by bits per weight.
// A non-empty `allowed` keeps only those types (quantize --budget-types).
std::vector<TensorType> CandidateTypes(int64_t row_length,
                                       std::span<const TensorType> allowed = {});

struct CandidateLoss {
  TensorType type = TensorType::kF16;
  uint64_t bytes = 0;  // the whole tensor in `type`
  double loss = 0.0;   // the proxy (above), summed over all rows
};

struct TensorSensitivity {
  const TensorView* tensor = nullptr;
  bool weighted = false;                  // imp from the imatrix (false: uniform weights)
  std::vector<CandidateLoss> candidates;  // CandidateTypes(cols) order: bytes nondecreasing
};

struct SensitivityOptions {
  int64_t max_rows = 512;           // rows sampled per tensor (all when the tensor has fewer)
  int threads = 1;                  // tensors measured in parallel
  std::vector<TensorType> allowed;  // candidate types (empty: every type CandidateTypes offers)
  // Called after each tensor (from any thread, serialised): done, total.
  std::function<void(size_t, size_t)> on_tensor_done;
};

// One tensor: `importance` is empty (uniform weights of `uniform_weight`) or has cols() entries
// per stacked matrix (matrices × cols, an imatrix's MeanSquares), finite and >= 0.
// REQUIRES: tensor is a matrix (shape.size() >= 2) with data, uniform_weight > 0.
// Error: a decoded value that is NaN or infinite (naming the tensor, row and column).
Result<TensorSensitivity> MeasureSensitivity(const TensorView& tensor,
                                             std::span<const float> importance,
                                             double uniform_weight, int64_t max_rows,
                                             bool weighted_encoding = true,
                                             std::span<const TensorType> allowed = {});

// The input of MeasureAll: one matrix with its importance (see MeasureSensitivity).
struct SensitivityInput {
  const TensorView* tensor = nullptr;
  std::span<const float> importance;
  double uniform_weight = 1.0;
  bool weighted_encoding = true;
  double role_scale = 1.0;  // multiplies every candidate's loss (quantize --budget-role-scale)
};

// Every input, results in input order, on options.threads threads (the results do not depend on
// the thread count). The first error (in input order) is returned.
Result<std::vector<TensorSensitivity>> MeasureAll(std::span<const SensitivityInput> inputs,
                                                  const SensitivityOptions& options);

// Tab-separated text, a header line then one line per (tensor, candidate): tensor, role, layer,
// cols, rows, type, bytes, loss, weighted (1/0); for quantize --sensitivity-tsv (benches).
std::string SensitivityTsv(std::span<const TensorSensitivity> tensors);

}  // namespace shrink
