// ImatrixCollector: the importance matrix of llama.cpp's `llama-imatrix`, collected by observing a
// forward pass.
//
// For every selected linear tensor W: (C_out, C_in) it accumulates, over every row x_t of every
// input x: (T, C_in) the forward shows it,
//
//   sum_sq[j] = Σ_t x[t][j]²   (j < C_in)      and      rows = Σ T
//
// which is what llama.cpp stores per tensor: in its GGUF imatrix file `<tensor>.in_sum2` (F32,
// C_in values) and `<tensor>.counts` (F32, one value for a dense tensor: the number of rows). The
// quantizers' importance weights are sum_sq[j] / rows. Sums accumulate here in F64 (each x² of an
// F32 x is exact in F64) and round to F32 only when written out.
//
// llama.cpp collects only "blk.*" tensors unless --process-output, so the default filter skips the
// output projection. Tensors are keyed by TensorName(role, layer); the output projection of a model
// with tied embeddings is keyed "output.weight" like an untied one, though its weights are
// token_embd's.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "calib/linear_input.h"
#include "io/imatrix_file.h"

namespace shrink {

struct ImatrixEntry {
  std::vector<double> sum_sq;  // (C_in) Σ_t x[t][j]² over every row seen
  int64_t rows = 0;            // rows of x seen (llama.cpp's count)
};

// Collects llama.cpp's importance matrix. Attach with InferenceSession::SetObserver and run
// calibration text through the session; statistics accumulate over every Evaluate (and over
// sessions, as long as they run the same model). Not thread-safe.
class ImatrixCollector : public LinearInputCollector {
 public:
  explicit ImatrixCollector(LinearFilter filter = BlockLinears);

  // Every tensor seen so far, by GGUF tensor name (sorted by name, as llama.cpp writes them).
  const std::map<std::string, ImatrixEntry, std::less<>>& entries() const { return entries_; }
  // The entry of `tensor_name` ("blk.3.ffn_down.weight"), or nullptr when none was collected.
  const ImatrixEntry* Find(std::string_view tensor_name) const;

 protected:
  void Accumulate(std::string name, std::span<const float> x, int64_t T, int64_t C_in) override;

 private:
  std::map<std::string, ImatrixEntry, std::less<>> entries_;
};

// The collected statistics as an imatrix file holds them (io/imatrix_file.h, GGUF semantics): per
// tensor the sums rounded to F32 and one count, the rows seen; `datasets`, `chunk_count` and
// `chunk_size` (tokens per chunk) are recorded as given.
ImatrixData ToImatrixData(const ImatrixCollector& collector, std::vector<std::string> datasets,
                          int64_t chunk_count, int64_t chunk_size);

}  // namespace shrink
