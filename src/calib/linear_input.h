// Selecting and naming the linear products that calibration observes.
//
// A transformer forward (model/transformer.h) shows its ForwardObserver the input x: (T, C_in) of
// every linear product y = x · Wᵀ, tagged (layer, role). Calibration collectors keep statistics per
// weight tensor, keyed by the tensor's GGUF name (TensorName: "blk.3.attn_q.weight",
// "output.weight"), as llama.cpp's imatrix keys its entries, and only for the products a
// LinearFilter selects. LinearInputCollector does that selection and naming once for every
// collector.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "model/tensor_table.h"
#include "model/transformer.h"

namespace shrink {

// (layer, role) -> whether to collect the input of that linear product. `layer` is -1 for the
// output projection (role kOutput); `role` is always a linear role (SpecOf(role).linear).
using LinearFilter = std::function<bool(int layer, TensorRole role)>;

// Every linear product inside the blocks, not the output projection: llama.cpp's imatrix default
// (it collects "blk.*" tensors, and output.weight only with --process-output).
bool BlockLinears(int layer, TensorRole role);
// Every linear product, the output projection included.
bool AllLinears(int layer, TensorRole role);
// Only `role` in `layer` (-1 with kOutput: the output projection).
LinearFilter OnlyTensor(int layer, TensorRole role);

// A ForwardObserver that passes the inputs of the linear products `filter` selects to Accumulate,
// with the tensor's name and width. Not thread-safe: observe one session at a time.
class LinearInputCollector : public ForwardObserver {
 public:
  // REQUIRES: `filter` is callable.
  explicit LinearInputCollector(LinearFilter filter);

  void OnLinearInput(int layer, TensorRole role, std::span<const float> x, int64_t T) final;

 protected:
  // x: (T, C_in) row-major with T > 0, the input of the product with tensor `name`. A collector
  // observes one model: the same name always comes with the same C_in (checked by implementations).
  virtual void Accumulate(std::string name, std::span<const float> x, int64_t T, int64_t C_in) = 0;

 private:
  LinearFilter filter_;
};

}  // namespace shrink
