// Importance weights from an imatrix file (quantize --imatrix), checked against the model and
// attached to a quantization plan.
//
// llama-quantize turns each imatrix entry into per-column weights, the mean of x² over the rows
// the calibration run saw (io/imatrix_file.h MeanSquares: 1s for a matrix that saw none), and
// passes a tensor's row of weights to its type's quantizer with every row of the tensor. shrink
// does the same through the formats table's encode_weighted (quant/convert_rows.h).
//
//   SHRINK_ASSIGN_OR_RETURN(ImatrixData im, ReadImatrixFile(path));
//   QuantPlan plan = PlanQuantization(config, order, mix, pure, /*with_imatrix=*/true);
//   SHRINK_ASSIGN_OR_RETURN(AttachedImportance weights, AttachImatrix(im, path, plan));
//   ... WriteQuantizedGguf(out, metadata, plan, options);   // while `weights` lives
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/gguf.h"
#include "io/imatrix_file.h"
#include "quant/plan.h"

namespace shrink {

// What AttachImatrix made: the weights the plan's spans point into, and counts for the summary.
struct AttachedImportance {
  std::map<std::string, std::vector<float>, std::less<>> weights;  // by tensor name
  int used = 0;             // tensors encoded with importance (ImportanceUse::kUsed)
  int type_unweighted = 0;  // matched tensors whose type has no encode_weighted
  int no_entry = 0;         // re-encoded matrices the imatrix has no entry for
  int unused_entries = 0;   // entries that name no tensor the plan re-encodes
};

// Checks `imatrix` (read from `path`, for messages) against the plan, before any work, and sets
// every tensor's ImportanceUse and importance. Every matrix the plan re-encodes that llama-imatrix
// observes by default (the linear inputs inside the blocks, calib/linear_input.h BlockLinears)
// must have an entry; any re-encoded matrix with an entry must match it: as many columns as its
// rows are long and as many matrices (1 for a 2-D tensor). The first tensor in plan order that
// fails gives the one error, e.g. "imatrix.gguf: entry 'blk.0.attn_q.weight' has 64 columns, but
// the model's tensor has rows of 576 (an imatrix of another model?)".
// REQUIRES: plan.with_imatrix. The result must outlive every use of the plan's spans.
Result<AttachedImportance> AttachImatrix(const ImatrixData& imatrix, std::string_view path,
                                         QuantPlan& plan);

// The per-column weights of `tensor` from the imatrix entry called `name` (the tensor's own name,
// or "output.weight" for a token_embd that doubles as the output projection): (matrices × cols)
// means of x², as AttachImatrix gives them; an empty vector when the imatrix has no such entry.
// Errors as AttachImatrix's for an entry whose columns or matrices do not match the tensor.
Result<std::vector<float>> ImportanceFor(const ImatrixData& imatrix, std::string_view path,
                                         const TensorView& tensor, std::string_view name);

// The keys llama-quantize adds to a file quantized with an imatrix, for the output's metadata:
// quantize.imatrix.file (the path as given), quantize.imatrix.dataset (the first dataset, if
// any), quantize.imatrix.entries_count (entries in the file) and quantize.imatrix.chunks_count
// (when > 0); strings cut to 127 bytes and integers u32, as llama-quantize writes them.
std::vector<std::pair<std::string, GgufValue>> ImatrixMetadata(const ImatrixData& imatrix,
                                                               std::string_view path);

}  // namespace shrink
