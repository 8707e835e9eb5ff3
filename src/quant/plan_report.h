// Text for `shrink quantize --explain` and `--dry-run`: one line per tensor with its old and new
// type and, with explain, the rule that chose the type, any fallback and, with an imatrix, whether
// the imatrix weighs its encoding; then a summary (tensors per type, total size, bits per weight,
// matrices the imatrix weighs).
#pragma once

#include <cstdint>
#include <string>

#include "quant/plan.h"

namespace shrink {

// Why tensor `t` of `plan` gets its type, e.g.
//   "rule 3 of Q4_K_M (llama.cpp *_K_M: attn_v on use_more_bits layers; attn_v, use_more_bits
//    layers (0-2, 5, 8, ... of 30)): Q6_K; fallback: row 576 is not a multiple of Q6_K's
//    256-element block: Q8_0"
std::string ExplainTensor(const QuantPlan& plan, const TensorPlan& t);
// One rule as text: "attn_v, use_more_bits layers (0-2, ... of 30), when GQA >= 4: Q6_K".
std::string DescribeRule(const QuantRule& rule, int32_t n_layers);

// The per-tensor table (a header line, then one line per tensor; `explain` adds the reasons).
std::string FormatPlanTable(const QuantPlan& plan, bool explain);
// "Q4_K_M: 272 tensors -> 61 F32, 182 Q5_0, ...; 90.4 MiB of tensor data; file 92831424 bytes
// (88.53 MiB), 5.52 bits per weight; 150 tensors fell back to a block-32 type".
std::string FormatPlanSummary(const QuantPlan& plan, uint64_t file_bytes);

}  // namespace shrink
