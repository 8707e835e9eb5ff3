// Low-rank pruning of a whole model: which linears get which rank, and the factored Weights.
//
//   std::vector<LowRankSite> sites = LowRankSites(model.weights);
//   std::vector<int64_t> ranks = RanksFromRatio(sites, 0.5, 1);               // or:
//   SHRINK_ASSIGN_OR_RETURN(RankPlan plan, RanksForTargetParams(model.weights, sites, 100'000'000));
//   SHRINK_RETURN_IF_ERROR(ApplyLowRank(model.weights, sites, plan.ranks));
//
// After ApplyLowRank the factored linears are LowRankPairs of the Weights (model/weights.h): the
// runtime (PreparedModel) runs them as two products and ForEachTensor visits A and B in place of
// the whole matrix, so a GGUF writer walking the Weights writes the factored file. The factors'
// F32 buffers are kept alive by Weights::storage. The SVD math is prune/low_rank.h.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/status.h"
#include "model/weights.h"
#include "prune/low_rank.h"

namespace shrink {

// A linear that may be factored: a whole (not yet factored) Factorable linear inside a block.
struct LowRankSite {
  int layer = 0;
  TensorRole role = TensorRole::kAttnQ;
  int64_t rows = 0;  // m of W: (m, n)
  int64_t cols = 0;  // n
};

// The linear whose input `role` reads: the transformer (model/transformer.cc) feeds attn_q, attn_k
// and attn_v the same normed input, and ffn_gate and ffn_up; so one input Gram (and one
// whitening) serves each group: kAttnK, kAttnV → kAttnQ; kFfnUp → kFfnGate; others themselves.
TensorRole SharedInputRole(TensorRole role);

// Every site of `w`, in table order.
std::vector<LowRankSite> LowRankSites(const Weights& w);

// Elements of every listed tensor (factor pairs count r·(m + n)).
int64_t ParameterCount(const Weights& w);

// Per site: RankFromRatio (0 = stays whole because that rank would not save parameters).
std::vector<int64_t> RanksFromRatio(std::span<const LowRankSite> sites, double ratio,
                                    int64_t multiple = 1);

// Ranks that bring ParameterCount(w) to at most `target_params` (ChooseRanksForBudget over the
// sites' singular values; one SVD per site, `on_site(i)` after each). Errors: a target at or
// above the model's count ("nothing to remove"), a target below what factoring every site at rank
// `multiple` reaches (the message gives that minimum), an SVD failure (named by tensor).
// The errors of RanksForTargetParams that need no SVD: a target at or above the model's count, or
// below what every site at rank `multiple` reaches.
Status CheckTargetParams(const Weights& w, std::span<const LowRankSite> sites,
                         int64_t target_params, int64_t multiple = 1);

// `whitening`: empty (plain SVD), or per site its input's whitening (low_rank.h; sites reading the
// same input may share one).
Result<RankPlan> RanksForTargetParams(const Weights& w, std::span<const LowRankSite> sites,
                                      int64_t target_params, int64_t multiple = 1,
                                      const std::function<void(size_t)>& on_site = nullptr,
                                      std::span<const Whitening* const> whitening = {});

// What ApplyLowRank did to one site.
struct LowRankSiteResult {
  int64_t rank = 0;               // 0: left whole
  double discarded_energy = 0.0;  // DiscardedEnergy of the kept rank: relative ‖W − BA‖²_F,
      // or relative ‖(W − BA)·S‖²_F (output error) when whitened
};

// Replaces each site with ranks[i] > 0 by its rank-ranks[i] factor pair (F32), in place.
// `on_site(i, result)` after each site. REQUIRES: ranks.size() == sites.size(), each rank in
// 0..min(rows, cols); `whitening` empty or one per site (as RanksForTargetParams).
// Errors: an SVD failure or a non-finite weight (named by tensor).
Status ApplyLowRank(Weights& w, std::span<const LowRankSite> sites, std::span<const int64_t> ranks,
                    const std::function<void(size_t, const LowRankSiteResult&)>& on_site = nullptr,
                    std::span<const Whitening* const> whitening = {});

// The whole matrix of a site as F32, row-major (rows × cols), decoded from its stored type.
Result<std::vector<float>> DecodeSite(const Weights& w, const LowRankSite& site);

}  // namespace shrink
