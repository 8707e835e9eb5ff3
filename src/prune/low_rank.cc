#include "prune/low_rank.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <queue>

#include "base/check.h"

namespace shrink {
namespace {

// The SVD of W: (rows, cols) row-major, k = min(rows, cols) singular values. Read as
// column-major, W's buffer is Wᵀ: (cols, rows); LAPACK factors Wᵀ = V Σ Uᵀ without any
// transposition copy. With vectors, `v` receives V column-major (cols × k: column j, i.e. the
// right singular vector v_j, is contiguous) and `ut` receives Uᵀ column-major (k × rows: the
// first entries of each column i are row i of U).
struct Decomposition {
  std::vector<double> s, v, ut;
};

Result<Decomposition> Decompose(std::span<const float> w, int64_t rows, int64_t cols,
                                const Whitening* whitening, bool vectors) {
  SHRINK_CHECK(rows >= 1 && cols >= 1 && static_cast<int64_t>(w.size()) == rows * cols);
  std::vector<double> a(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    if (!std::isfinite(w[i])) {
      return Status::Errorf("row {}, column {}: the weight is {}; an SVD needs finite values",
                            static_cast<int64_t>(i) / cols, static_cast<int64_t>(i) % cols, w[i]);
    }
    a[i] = w[i];
  }
  if (whitening != nullptr) {
    SHRINK_CHECK(whitening->n == cols);
    // a := W·S (row-major, S lower triangular).
    cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
                static_cast<int>(rows), static_cast<int>(cols), 1.0, whitening->lower.data(),
                static_cast<int>(cols), a.data(), static_cast<int>(cols));
  }
  const int64_t k = std::min(rows, cols);
  Decomposition d;
  d.s.resize(static_cast<size_t>(k));
  if (vectors) {
    d.v.resize(static_cast<size_t>(cols * k));
    d.ut.resize(static_cast<size_t>(k * rows));
  }
  // Wᵀ is (cols × rows) column-major with leading dimension cols.
  const auto m = static_cast<lapack_int>(cols), n = static_cast<lapack_int>(rows);
  const lapack_int info =
      LAPACKE_dgesdd(LAPACK_COL_MAJOR, vectors ? 'S' : 'N', m, n, a.data(), m, d.s.data(),
                     vectors ? d.v.data() : nullptr, m, vectors ? d.ut.data() : nullptr,
                     static_cast<lapack_int>(k));
  if (info > 0) return Status::Errorf("SVD: LAPACK dgesdd did not converge (info {})", info);
  if (info < 0) return Status::Errorf("SVD: LAPACK dgesdd rejected argument {}", -info);
  return d;
}

}  // namespace

Result<Whitening> WhiteningFromGram(std::span<const double> xtx, int64_t n, double damp) {
  SHRINK_CHECK(n >= 1 && static_cast<int64_t>(xtx.size()) == n * n && damp >= 0);
  Whitening wh;
  wh.n = n;
  wh.lower.assign(xtx.begin(), xtx.end());
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += xtx[i * n + i];
  mean /= static_cast<double>(n);
  const double lambda = damp * (mean > 0 ? mean : 1.0);
  for (int64_t i = 0; i < n; ++i) wh.lower[i * n + i] += lambda;
  // Row-major lower = column-major upper of the same buffer: LAPACK's 'U' factor R = Lᵀ, stored
  // column-major, is L row-major (G symmetric, so reading it transposed changes nothing).
  const lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', static_cast<lapack_int>(n),
                                         wh.lower.data(), static_cast<lapack_int>(n));
  if (info > 0) {
    return Status::Errorf(
        "whitening: the input Gram (damped by {}) is not positive definite at column {}", lambda,
        info - 1);
  }
  if (info < 0) return Status::Errorf("whitening: LAPACK dpotrf rejected argument {}", -info);
  // dpotrf leaves the other triangle as it was: clear it (row-major upper).
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) wh.lower[i * n + j] = 0.0;
  }
  return wh;
}

Result<std::vector<double>> SingularValues(std::span<const float> w, int64_t rows, int64_t cols,
                                           const Whitening* whitening) {
  SHRINK_ASSIGN_OR_RETURN(Decomposition d, Decompose(w, rows, cols, whitening, /*vectors=*/false));
  return std::move(d.s);
}

Result<LowRankFactors> FactorizeLowRank(std::span<const float> w, int64_t rows, int64_t cols,
                                        int64_t rank, const Whitening* whitening) {
  const int64_t k = std::min(rows, cols);
  SHRINK_CHECK(rank >= 1 && rank <= k);
  SHRINK_ASSIGN_OR_RETURN(Decomposition d, Decompose(w, rows, cols, whitening, /*vectors=*/true));
  if (whitening != nullptr) {
    // A = Σ^½ V_rᵀ S⁻¹: solve X·S = V_rᵀ for the first `rank` rows of V's columns (contiguous:
    // d.v holds v_j at j·cols), in place; the √σ scaling below is applied after.
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
                static_cast<int>(rank), static_cast<int>(cols), 1.0, whitening->lower.data(),
                static_cast<int>(cols), d.v.data(), static_cast<int>(cols));
  }
  LowRankFactors f;
  f.rank = rank;
  f.a.resize(static_cast<size_t>(rank * cols));
  f.b.resize(static_cast<size_t>(rows * rank));
  for (int64_t j = 0; j < rank; ++j) {
    const double root = std::sqrt(d.s[j]);
    // A row j = √σ_j · v_jᵀ (column j of V, contiguous).
    for (int64_t c = 0; c < cols; ++c) {
      f.a[j * cols + c] = static_cast<float>(root * d.v[j * cols + c]);
    }
    // B column j = √σ_j · u_j; U[i][j] is Uᵀ's column-major entry (j, i).
    for (int64_t i = 0; i < rows; ++i) {
      f.b[i * rank + j] = static_cast<float>(root * d.ut[i * k + j]);
    }
  }
  f.singular_values = std::move(d.s);
  return f;
}

double DiscardedEnergy(std::span<const double> singular_values, int64_t rank) {
  double total = 0, tail = 0;
  for (size_t i = 0; i < singular_values.size(); ++i) {
    const double e = singular_values[i] * singular_values[i];
    total += e;
    if (static_cast<int64_t>(i) >= rank) tail += e;
  }
  return total > 0 ? tail / total : 0.0;
}

int64_t MaxUsefulRank(int64_t rows, int64_t cols, int64_t multiple) {
  SHRINK_CHECK(rows >= 1 && cols >= 1 && multiple >= 1);
  // r·(rows + cols) < rows·cols  ⇔  r <= (rows·cols − 1) / (rows + cols).
  int64_t r = (rows * cols - 1) / (rows + cols);
  r = std::min(r, std::min(rows, cols));
  return r / multiple * multiple;
}

Status CheckRankRatio(double ratio) {
  if (!(ratio > 0.0 && ratio <= 1.0)) {
    return Status::Errorf("--rank-ratio {}: expected a fraction of each matrix's rank in (0, 1]",
                          ratio);
  }
  return Status::Ok();
}

int64_t RankFromRatio(int64_t rows, int64_t cols, double ratio, int64_t multiple) {
  SHRINK_CHECK(multiple >= 1);
  const int64_t k = std::min(rows, cols);
  int64_t r = std::llround(ratio * static_cast<double>(k));
  r = (r + multiple / 2) / multiple * multiple;
  r = std::clamp<int64_t>(r, std::min(multiple, k), k);
  return r * (rows + cols) < rows * cols ? r : 0;
}

namespace {

// A point of one matrix's rank curve: at `rank` (0 = whole) it saves `saved` parameters and loses
// `loss` of its relative energy.
struct CurvePoint {
  int64_t rank;
  int64_t saved;
  double loss;
};

// The lower convex hull, from "whole" on, of the points (saved, loss) of every rank multiple ..
// MaxUsefulRank in steps of `multiple`. Along it the loss per parameter saved only grows, so
// taking hull steps cheapest first over all matrices is the greedy of a convex problem: a matrix
// whose first step is expensive (whole → MaxUsefulRank saves little) is not locked out while
// another, once started, runs down to rank 1 on cheap steps.
std::vector<CurvePoint> LowerHull(const RankCandidate& c, std::span<const double> tail,
                                  int64_t multiple) {
  std::vector<CurvePoint> hull = {{0, 0, 0.0}};
  const int64_t k = static_cast<int64_t>(c.singular_values.size());
  for (int64_t r = MaxUsefulRank(c.rows, c.cols, multiple); r >= multiple; r -= multiple) {
    const CurvePoint p{r, c.rows * c.cols - r * (c.rows + c.cols), tail[std::min(r, k)]};
    // Pop the last point while it lies on or above the segment from the one before it to p.
    while (hull.size() >= 2) {
      const CurvePoint& a = hull[hull.size() - 2];
      const CurvePoint& b = hull.back();
      const double cross = static_cast<double>(b.saved - a.saved) * (p.loss - a.loss) -
                           (b.loss - a.loss) * static_cast<double>(p.saved - a.saved);
      if (cross > 0) break;
      hull.pop_back();
    }
    hull.push_back(p);
  }
  return hull;
}

}  // namespace

Result<RankPlan> ChooseRanksForBudget(std::span<const RankCandidate> candidates,
                                      int64_t params_to_remove, int64_t multiple) {
  SHRINK_CHECK(multiple >= 1);
  const size_t n = candidates.size();
  // tails[c][r] = Σ_{i>=r} σ_i² / Σ σ_i²: the loss at rank r (r = k: nothing discarded).
  std::vector<std::vector<double>> tails(n);
  int64_t most = 0;
  for (size_t c = 0; c < n; ++c) {
    const RankCandidate& rc = candidates[c];
    const std::vector<double>& s = rc.singular_values;
    std::vector<double>& t = tails[c];
    t.assign(s.size() + 1, 0.0);
    for (size_t i = s.size(); i-- > 0;) t[i] = t[i + 1] + s[i] * s[i];
    if (const double total = t[0]; total > 0) {
      for (double& e : t) e /= total;  // (not by t[0], which the loop overwrites first)
    }
    if (MaxUsefulRank(rc.rows, rc.cols, multiple) > 0) {
      most += rc.rows * rc.cols - multiple * (rc.rows + rc.cols);
    }
  }
  if (params_to_remove > most) {
    return Status::Errorf(
        "removing {} parameters by low rank is not possible: at rank {} everywhere the linears "
        "inside the blocks give up at most {}",
        params_to_remove, multiple, most);
  }
  std::vector<std::vector<CurvePoint>> hulls(n);
  for (size_t c = 0; c < n; ++c) hulls[c] = LowerHull(candidates[c], tails[c], multiple);
  RankPlan plan;
  plan.ranks.assign(n, 0);
  std::vector<size_t> at(n, 0);  // each candidate's current hull vertex
  // Pending hull steps: (energy lost per parameter saved, candidate).
  using Step = std::pair<double, size_t>;
  std::priority_queue<Step, std::vector<Step>, std::greater<>> steps;
  auto push_next = [&](size_t c) {
    if (at[c] + 1 >= hulls[c].size()) return;
    const CurvePoint& a = hulls[c][at[c]];
    const CurvePoint& b = hulls[c][at[c] + 1];
    steps.push({(b.loss - a.loss) / static_cast<double>(b.saved - a.saved), c});
  };
  for (size_t c = 0; c < n; ++c) push_next(c);
  while (plan.params_saved < params_to_remove && !steps.empty()) {
    const size_t c = steps.top().second;
    steps.pop();
    const CurvePoint& a = hulls[c][at[c]];
    const CurvePoint& b = hulls[c][at[c] + 1];
    if (plan.params_saved + (b.saved - a.saved) >= params_to_remove) {
      // The last step: within the segment, the highest rank that meets the budget (the raw curve
      // between two hull vertices, so no more is removed than needed).
      const RankCandidate& rc = candidates[c];
      const int64_t from =
          a.rank == 0 ? MaxUsefulRank(rc.rows, rc.cols, multiple) : a.rank - multiple;
      for (int64_t r = from; r >= b.rank; r -= multiple) {
        const int64_t saved = rc.rows * rc.cols - r * (rc.rows + rc.cols);
        if (plan.params_saved + saved - a.saved >= params_to_remove) {
          plan.params_saved += saved - a.saved;
          plan.ranks[c] = r;
          break;
        }
      }
      break;
    }
    plan.params_saved += b.saved - a.saved;
    plan.ranks[c] = b.rank;
    ++at[c];
    push_next(c);
  }
  SHRINK_CHECK(plan.params_saved >= params_to_remove);
  return plan;
}

}  // namespace shrink
