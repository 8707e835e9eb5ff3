// Training into a GGUF type (quantization-aware training): the quantization plan (quant/plan.h) of a
// TrainableModel's F32 masters, the fake-quantization spec it implies (train/fake_quant.h), and
// the output written through that same plan, so that what trains is exactly what is written.
//
//   SHRINK_ASSIGN_OR_RETURN(TrainedOutputPlan out, PlanTrainedOutput(model, mix));
//   SHRINK_RETURN_IF_ERROR(model.SetFakeQuant(FakeQuantSpecFor(out.plan, model)));   // QAT
//   ... train (train/trainer.h) ...
//   SHRINK_RETURN_IF_ERROR(WriteTrainedGguf(path, source_metadata, mix, out.plan, threads));
//
// Why the written grid is the trained one: the writer (quant/quantized_gguf.h) encodes each row of
// a master with the plan's type's encode (encode_weighted with the plan's importance), the same
// call FakeQuantizeRows makes on the same floats, so decode(file) equals TrainableModel::
// ForwardWeights bit for bit (tested). Re-rounding anything else (say, the copies themselves, or
// masters through another encoder) would move weights off the grid they trained on.
//
// This is a composition of quant/ and train/ (siblings that may not include each other), hence
// this layer; `shrink train --quantize T` and `shrink distill --quantize T` both use it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "model/config_metadata.h"
#include "model/weights.h"
#include "quant/mix.h"
#include "quant/plan.h"
#include "train/fake_quant.h"
#include "train/trainable_model.h"

namespace shrink {

// F32 views of `model`'s master weights, named and shaped as the tensor table says, in its order.
// Valid while `model` lives (the views point into params()).
Weights TrainedWeights(const train::TrainableModel& model);

// A plan over a trained model's views; `weights` is a pointer so that moving this struct keeps the
// plan's TensorPlan::source pointers valid.
struct TrainedOutputPlan {
  std::unique_ptr<Weights> weights;
  QuantPlan plan;  // over *weights, in tensor-table order (= model.tensors() order)
};

// Plans the output of `model` under `mix` (quantize's rules: vectors F32, each matrix its rule's
// type with the row-length fallback), for a run with an importance matrix when `with_imatrix`.
// Error: a planned type without an encoder (CheckEncodable).
Result<TrainedOutputPlan> PlanTrainedOutput(const train::TrainableModel& model, const QuantMix& mix,
                                            bool with_imatrix = false);

// spec[i] = the plan's type of model.tensors()[i] (kF32 for a tensor the plan keeps in F32) and,
// where the plan encodes with importance (ImportanceUse::kUsed), its weights. With `exact_steps`
// (`--rounding exact`), the tensors whose type has an exact step search (Q4_0, Q5_0, IQ4_NL) get
// FakeQuantRounding::kExactFrozenSteps, the others the reference encoder, as `quantize
// --rounding exact` encodes them.
// REQUIRES: `plan` came from PlanTrainedOutput(model, ...) (same tensors, same order).
train::FakeQuantSpec FakeQuantSpecFor(const QuantPlan& plan, const train::TrainableModel& model,
                                      bool exact_steps = false);

// Writes the plan's tensors to `path` with `source_metadata`'s keys and the mix's file type
// (quant/quantized_gguf.h QuantizedMetadata), atomically: the masters encoded as the plan says,
// except that the tensors `model` reads through stored blocks (exact frozen steps,
// TrainableModel::FakeQuantBlocks) are written as those blocks, re-rounded from the current
// masters: the grid a forward pass reads now.
// REQUIRES: `plan` came from PlanTrainedOutput(model, ...).
Status WriteTrainedGguf(const std::string& path, const GgufMetadata& source_metadata,
                        const QuantMix& mix, const QuantPlan& plan, int threads,
                        train::TrainableModel& model);

}  // namespace shrink
