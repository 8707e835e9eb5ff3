#include "prune/low_rank_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "base/check.h"
#include "formats/types.h"

namespace shrink {

TensorRole SharedInputRole(TensorRole role) {
  switch (role) {
    case TensorRole::kAttnK:
    case TensorRole::kAttnV:
      return TensorRole::kAttnQ;
    case TensorRole::kFfnUp:
      return TensorRole::kFfnGate;
    default:
      return role;
  }
}

std::vector<LowRankSite> LowRankSites(const Weights& w) {
  std::vector<LowRankSite> sites;
  w.ForEachTensor([&](const TensorView& v) {
    if (v.layer < 0 || v.part != TensorPart::kWhole || !Factorable(SpecOf(v.role))) return;
    sites.push_back({v.layer, v.role, v.rows(), v.cols()});
  });
  return sites;
}

int64_t ParameterCount(const Weights& w) {
  int64_t n = 0;
  w.ForEachTensor([&](const TensorView& v) { n += v.element_count(); });
  return n;
}

std::vector<int64_t> RanksFromRatio(std::span<const LowRankSite> sites, double ratio,
                                    int64_t multiple) {
  std::vector<int64_t> ranks;
  ranks.reserve(sites.size());
  for (const LowRankSite& s : sites)
    ranks.push_back(RankFromRatio(s.rows, s.cols, ratio, multiple));
  return ranks;
}

Result<std::vector<float>> DecodeSite(const Weights& w, const LowRankSite& site) {
  const TensorView& v = w.layers[site.layer].*SpecOf(site.role).layer_member;
  SHRINK_CHECK(v.listed() && v.rows() == site.rows && v.cols() == site.cols);
  SHRINK_ASSIGN_OR_RETURN(const int64_t row_bytes, RowBytes(v.type, v.cols()));
  SHRINK_CHECK(static_cast<int64_t>(v.data.size()) == row_bytes * v.rows());
  std::vector<float> out(static_cast<size_t>(v.rows() * v.cols()));
  const TypeTraits& traits = Traits(v.type);
  for (int64_t r = 0; r < v.rows(); ++r) {
    traits.decode(v.data.data() + r * row_bytes, out.data() + r * v.cols(), v.cols());
  }
  return out;
}

namespace {

std::string SiteName(const LowRankSite& s) { return TensorName(s.role, s.layer); }

}  // namespace

Status CheckTargetParams(const Weights& w, std::span<const LowRankSite> sites,
                         int64_t target_params, int64_t multiple) {
  const int64_t total = ParameterCount(w);
  if (target_params >= total) {
    return Status::Errorf("--target-params {}: the model has {} parameters; nothing to remove",
                          target_params, total);
  }
  // Checked before any SVD: the most low rank can remove does not depend on singular values.
  int64_t most = 0;
  for (const LowRankSite& s : sites) {
    if (MaxUsefulRank(s.rows, s.cols, multiple) > 0) {
      most += s.rows * s.cols - multiple * (s.rows + s.cols);
    }
  }
  if (total - target_params > most) {
    return Status::Errorf(
        "--target-params {}: below what low rank reaches: {} parameters with every linear inside "
        "the blocks at rank {} (embeddings, norms and the output stay whole)",
        target_params, total - most, multiple);
  }
  return Status::Ok();
}

Result<RankPlan> RanksForTargetParams(const Weights& w, std::span<const LowRankSite> sites,
                                      int64_t target_params, int64_t multiple,
                                      const std::function<void(size_t)>& on_site,
                                      std::span<const Whitening* const> whitening) {
  SHRINK_CHECK(whitening.empty() || whitening.size() == sites.size());
  SHRINK_RETURN_IF_ERROR(CheckTargetParams(w, sites, target_params, multiple));
  const int64_t total = ParameterCount(w);
  std::vector<RankCandidate> candidates;
  candidates.reserve(sites.size());
  for (size_t i = 0; i < sites.size(); ++i) {
    const LowRankSite& s = sites[i];
    SHRINK_ASSIGN_OR_RETURN(const std::vector<float> m, DecodeSite(w, s));
    SHRINK_ASSIGN_OR_RETURN(
        std::vector<double> sv,
        SingularValues(m, s.rows, s.cols, whitening.empty() ? nullptr : whitening[i])
            .WithContext(SiteName(s)));
    candidates.push_back({s.rows, s.cols, std::move(sv)});
    if (on_site) on_site(i);
  }
  return ChooseRanksForBudget(candidates, total - target_params, multiple);
}

Status ApplyLowRank(Weights& w, std::span<const LowRankSite> sites, std::span<const int64_t> ranks,
                    const std::function<void(size_t, const LowRankSiteResult&)>& on_site,
                    std::span<const Whitening* const> whitening) {
  SHRINK_CHECK(ranks.size() == sites.size());
  SHRINK_CHECK(whitening.empty() || whitening.size() == sites.size());
  for (size_t i = 0; i < sites.size(); ++i) {
    const LowRankSite& s = sites[i];
    LowRankSiteResult result;
    if (ranks[i] > 0) {
      SHRINK_CHECK(ranks[i] <= std::min(s.rows, s.cols));
      SHRINK_ASSIGN_OR_RETURN(const std::vector<float> m, DecodeSite(w, s));
      SHRINK_ASSIGN_OR_RETURN(
          LowRankFactors f,
          FactorizeLowRank(m, s.rows, s.cols, ranks[i], whitening.empty() ? nullptr : whitening[i])
              .WithContext(SiteName(s)));
      result.rank = f.rank;
      result.discarded_energy = DiscardedEnergy(f.singular_values, f.rank);
      LayerWeights& layer = w.layers[s.layer];
      FactorizeLinear(layer, s.role, f.rank);
      LowRankPair& pair = layer.low_rank[static_cast<size_t>(s.role)];
      auto a = std::make_shared<std::vector<float>>(std::move(f.a));
      auto b = std::make_shared<std::vector<float>>(std::move(f.b));
      pair.a.data = {reinterpret_cast<const uint8_t*>(a->data()), a->size() * sizeof(float)};
      pair.b.data = {reinterpret_cast<const uint8_t*>(b->data()), b->size() * sizeof(float)};
      w.storage.push_back(std::move(a));
      w.storage.push_back(std::move(b));
    }
    if (on_site) on_site(i, result);
  }
  return Status::Ok();
}

}  // namespace shrink
