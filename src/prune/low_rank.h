// Low-rank factorization of linear layers (`shrink prune --method svd`).
//
// A weight W: (m, n) (row-major, y = x·Wᵀ) is replaced by its best rank-r approximation in the
// Frobenius norm, the truncated SVD W_r = U_r Σ_r V_rᵀ (Eckart–Young: ‖W − W_r‖²_F = Σ_{i>r} σ_i²),
// stored as two thin matrices W_r = B · A with the singular values split evenly,
//   B = U_r Σ_r^½: (m, r),   A = Σ_r^½ V_rᵀ: (r, n),
// so that both factors have the same scale (friendlier to a later quantization than putting Σ on
// one side). Storing the pair costs r·(m + n) parameters instead of m·n: a linear is factored only
// when r·(m + n) < m·n (MaxUsefulRank).
//
// Ranks:
//   * a rank ratio ρ in (0, 1]: every linear keeps r = round(ρ · min(m, n)) (RankFromRatio);
//   * a parameter budget: ChooseRanksForBudget walks down ranks greedily over all linears, each
//     step the one with the least discarded singular-value energy per parameter saved (AIMET's
//     greedy rank selection with the relative energy Σ_{i>r} σ_i² / Σ σ_i² as the per-layer loss),
//     on each matrix's convex hull (the first step, whole → MaxUsefulRank, saves little and would
//     otherwise look dear next to the cheap later steps of a matrix already started).
// SVDs are LAPACK's dgesdd in F64 on the decoded F32 weights.
//
// Calibration-aware whitening (SVD-LLM, Wang et al. 2024): what matters is the error on the layer's
// inputs, Σ_t ‖(W − BA)·x_t‖² = ‖(W − BA)·S‖²_F with S the lower Cholesky factor of the input Gram
// XᵀX = S·Sᵀ. The SVD is taken of W·S = U Σ Vᵀ; its truncation is the best rank r in that norm, and
// the factors are B = U_r Σ_r^½, A = Σ_r^½ V_rᵀ S⁻¹ (a triangular solve). The singular values are
// then those of W·S, so the energies and the greedy search measure output error directly.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shrink {

// S: the lower Cholesky factor of XᵀX + λI, (n, n) row-major, for whitened factorizations.
struct Whitening {
  int64_t n = 0;
  std::vector<double> lower;
};

// From a Gram XᵀX: (n, n) row-major (calib/hessian.h GramEntry::xtx), damped by λ = damp · mean of
// its diagonal (as GPTQ's percdamp; a dead input keeps the factorization defined), 0 <= damp.
// Errors: the damped Gram is not positive definite (e.g. damp 0 with fewer rows than n).
Result<Whitening> WhiteningFromGram(std::span<const double> xtx, int64_t n, double damp = 0.01);

// The singular values of W: (rows, cols) row-major, descending (min(rows, cols) values), or of
// W·S when `whitening` is given (REQUIRES: whitening->n == cols).
// Errors: LAPACK's failure to converge; a non-finite weight.
Result<std::vector<double>> SingularValues(std::span<const float> w, int64_t rows, int64_t cols,
                                           const Whitening* whitening = nullptr);

// W ≈ B · A of rank `rank` (see above), row-major: a: (rank, cols), b: (rows, rank).
struct LowRankFactors {
  int64_t rank = 0;
  std::vector<float> a;
  std::vector<float> b;
  std::vector<double> singular_values;  // all min(rows, cols) of W (of W·S), descending
};

// REQUIRES: 1 <= rank <= min(rows, cols), w.size() == rows·cols; whitening null or of n == cols.
// Errors: as SingularValues.
Result<LowRankFactors> FactorizeLowRank(std::span<const float> w, int64_t rows, int64_t cols,
                                        int64_t rank, const Whitening* whitening = nullptr);

// Σ_{i>=rank} σ_i² / Σ σ_i²: the relative squared Frobenius error of the rank-`rank` truncation
// (0 for an all-zero matrix).
double DiscardedEnergy(std::span<const double> singular_values, int64_t rank);

// The largest r (a multiple of `multiple`) with r·(rows + cols) < rows·cols; 0 when none.
int64_t MaxUsefulRank(int64_t rows, int64_t cols, int64_t multiple = 1);

// "--rank-ratio" in (0, 1]; the error names the flag and the range.
Status CheckRankRatio(double ratio);
// round(ratio · min(rows, cols)) rounded to a multiple of `multiple`, at least `multiple` and at
// most min(rows, cols). 0 when that rank saves nothing (r·(rows + cols) >= rows·cols).
int64_t RankFromRatio(int64_t rows, int64_t cols, double ratio, int64_t multiple = 1);

// One factorable linear of the budget search.
struct RankCandidate {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> singular_values;  // descending
};

struct RankPlan {
  std::vector<int64_t> ranks;  // per candidate: 0 = stays whole, else the rank of its pair
  int64_t params_saved = 0;    // Σ over factored candidates of rows·cols − r·(rows + cols)
};

// Ranks removing at least `params_to_remove` parameters from the candidates, greedily: each
// candidate's curve of (parameters saved, relative energy lost) over ranks `multiple`, 2·multiple,
// .., MaxUsefulRank and "whole" is reduced to its lower convex hull, and hull steps are taken
// cheapest (least energy per parameter saved) first over all candidates until the budget is met;
// the last step stops at the highest rank of its segment that meets it. Errors: the budget cannot
// be met even at the smallest ranks (the message gives the most that can be removed).
Result<RankPlan> ChooseRanksForBudget(std::span<const RankCandidate> candidates,
                                      int64_t params_to_remove, int64_t multiple = 1);

}  // namespace shrink
