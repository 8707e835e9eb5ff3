// HessianCollector: the Gram matrices XᵀX of selected linear inputs, for GPTQ and SparseGPT.
//
// For a linear tensor W: (C_out, C_in), GPTQ and SparseGPT minimize Σ_t ‖(W − Ŵ)·x_t‖² over the
// calibration rows x_t: (C_in); its Hessian with respect to each row of W is
//
//   H = 2·XᵀX / n       X: (n, C_in), the n rows stacked
//
// (the 1/n average is GPTQ's normalization). The collector keeps the raw sum XᵀX = Σ_t x_tᵀ x_t in
// F64 and the row count n; GptqHessian forms H.
//
// A tensor's sum takes C_in² doubles (SmolLM2-135M's ffn_down: 1536² · 8 B = 18 MB; the whole model
// about 1 GB), so the filter is required: collect a layer or a few tensors per pass.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "calib/linear_input.h"

namespace shrink {

struct GramEntry {
  int64_t cols = 0;         // C_in
  std::vector<double> xtx;  // (C_in, C_in) row-major, symmetric: Σ_t x[t][i]·x[t][j]
  int64_t rows = 0;         // n: rows of x seen
};

// H = 2·XᵀX / n: (C_in, C_in) row-major, symmetric. REQUIRES: entry.rows > 0.
std::vector<double> GptqHessian(const GramEntry& entry);

// Collects XᵀX for the linear tensors `filter` selects. Attach with InferenceSession::SetObserver;
// sums accumulate over every Evaluate (and over sessions of the same model). Its diagonal equals
// ImatrixCollector's sum_sq for the same tensor. Not thread-safe.
class HessianCollector : public LinearInputCollector {
 public:
  explicit HessianCollector(LinearFilter filter);

  // Every tensor seen so far, by GGUF tensor name.
  const std::map<std::string, GramEntry, std::less<>>& entries() const { return entries_; }
  // The entry of `tensor_name` ("blk.1.attn_q.weight"), or nullptr when none was collected.
  const GramEntry* Find(std::string_view tensor_name) const;

 protected:
  void Accumulate(std::string name, std::span<const float> x, int64_t T, int64_t C_in) override;

 private:
  std::map<std::string, GramEntry, std::less<>> entries_;
};

}  // namespace shrink
