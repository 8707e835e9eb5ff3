// `shrink prune IN OUT --method svd (--rank-ratio R | --target-params N)`: low-rank factorization
// of the linears inside the blocks (prune/low_rank_model.h). The output stores each factored
// linear as a pair of tensors only shrink's runtime runs (docs/formats.md, "Low-rank factors").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"

namespace shrink::cli {

struct LowRankPruneFlags {
  std::string in_path, out_path, tokenizer_path;
  std::string type = "F32";  // output type or mix (the rank is a multiple of its block size)
  std::optional<double> rank_ratio;
  std::string target_params;  // "100M"
  // Whitening (SVD-LLM) from the input Grams over this text, when not empty.
  std::string calibration;
  int32_t n_ctx = 512;
  int32_t max_chunks = -1;
  bool allow_long_context = false;
  bool explain = false, dry_run = false;
  int threads = 1;  // OpenBLAS threads for the SVDs
};

Status RunLowRankPrune(const LowRankPruneFlags& f);

}  // namespace shrink::cli
