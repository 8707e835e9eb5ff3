#include "prune/sparsegpt.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "calib/inverse_hessian.h"

namespace shrink {
namespace {

// Everything a row tile reads, shared by all tiles (read-only during the sweep).
struct Sweep {
  int64_t C_in = 0, batch = 0;
  SparsityTarget target;
  SparseGptMaskScope scope = SparseGptMaskScope::kBlock;
  std::vector<float> U;       // (C_in, C_in) upper factor of the damped H⁻¹, F32
  std::vector<float> inv_d2;  // 1 / U[j][j]², or 0 for a dead column (score 0)
};

// Puts in order[0, k) the `k` lowest-scoring columns among [begin, begin + len) of `row`, score
// w_j² / U[j][j]², ties by column (k <= len).
void SelectLowest(const Sweep& s, const float* row, int64_t begin, int64_t len, int64_t k,
                  std::vector<int64_t>& order) {
  order.resize(static_cast<size_t>(len));
  for (int64_t i = 0; i < len; ++i) order[i] = begin + i;
  auto score = [&](int64_t j) { return row[j] * row[j] * s.inv_d2[j]; };
  auto lower = [&](int64_t a, int64_t b) {
    const float sa = score(a), sb = score(b);
    return sa < sb || (sa == sb && a < b);
  };
  if (k > 0 && k < len)
    std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), lower);
}

// Marks in `mask_row` the `k` lowest-scoring columns among [begin, begin + len). `order` is
// scratch.
void MarkLowest(const Sweep& s, const float* row, int64_t begin, int64_t len, int64_t k,
                uint8_t* mask_row, std::vector<int64_t>& order) {
  if (k <= 0) return;
  SelectLowest(s, row, begin, len, k, order);
  for (int64_t i = 0; i < k; ++i) mask_row[order[i]] = 1;
}

// kRow scope: of the `left` lowest-scoring columns among the unvisited [i1, C_in), marks those
// inside the block [i1, i2); returns how many it marked.
int64_t MarkRowShare(const Sweep& s, const float* row, int64_t i1, int64_t i2, int64_t left,
                     uint8_t* mask_row, std::vector<int64_t>& order) {
  // left <= C_in − i1 holds (the earlier blocks' selections left at most the unvisited columns
  // to remove); the min keeps the loop below inside `order` regardless.
  left = std::min(left, s.C_in - i1);
  if (left <= 0) return 0;
  SelectLowest(s, row, i1, s.C_in - i1, left, order);
  int64_t marked = 0;
  for (int64_t i = 0; i < left; ++i) {
    if (order[i] < i2) {
      mask_row[order[i]] = 1;
      ++marked;
    }
  }
  return marked;
}

void PruneTile(const Sweep& s, std::span<const float> W, int64_t r0, int64_t R,
               SparseGptResult& out) {
  const int64_t C = s.C_in;
  std::vector<float> Wt(W.begin() + r0 * C, W.begin() + (r0 + R) * C);  // (R, C)
  uint8_t* mask = out.mask.data() + r0 * C;
  std::vector<float> err(static_cast<size_t>(R * s.batch));  // (R, batch)
  std::vector<int64_t> order;
  const bool pattern = s.target.pattern();
  const double sp = s.target.sparsity;
  // kRow: what each row has still to remove of its floor(s·C_in).
  std::vector<int64_t> left(static_cast<size_t>(R),
                            static_cast<int64_t>(std::floor(sp * static_cast<double>(C))));
  for (int64_t i1 = 0; i1 < C; i1 += s.batch) {
    const int64_t i2 = std::min(i1 + s.batch, C);
    if (!pattern && s.scope == SparseGptMaskScope::kBlock) {
      // This block's share of each row's floor(s·C_in): the shares add up to exactly that.
      const auto k = static_cast<int64_t>(std::floor(sp * static_cast<double>(i2))) -
                     static_cast<int64_t>(std::floor(sp * static_cast<double>(i1)));
      for (int64_t r = 0; r < R; ++r)
        MarkLowest(s, Wt.data() + r * C, i1, i2 - i1, k, mask + r * C, order);
    } else if (!pattern) {
      // At the last block [i1, C) is the block itself, so every row ends exactly on its budget.
      for (int64_t r = 0; r < R; ++r)
        left[r] -= MarkRowShare(s, Wt.data() + r * C, i1, i2, left[r], mask + r * C, order);
    }
    std::fill(err.begin(), err.end(), 0.0f);
    for (int64_t j = i1; j < i2; ++j) {
      if (pattern && (j - i1) % s.target.m == 0) {
        for (int64_t r = 0; r < R; ++r) {
          MarkLowest(s, Wt.data() + r * C, j, s.target.m, s.target.m - s.target.n, mask + r * C,
                     order);
        }
      }
      const float d = s.U[j * C + j];
      const float* u = s.U.data() + j * C;
      for (int64_t r = 0; r < R; ++r) {
        if (!mask[r * C + j]) continue;  // kept: no error, nothing to spread
        float* row = Wt.data() + r * C;
        const float e = row[j] / d;
        row[j] = 0.0f;
        err[r * s.batch + (j - i1)] = e;
        for (int64_t k = j + 1; k < i2; ++k) row[k] -= e * u[k];
      }
    }
    if (i2 < C) {
      // Wt[:, i2:] -= err · U[i1:i2, i2:]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R),
                  static_cast<int>(C - i2), static_cast<int>(i2 - i1), -1.0f, err.data(),
                  static_cast<int>(s.batch), s.U.data() + i1 * C + i2, static_cast<int>(C), 1.0f,
                  Wt.data() + i2, static_cast<int>(C));
    }
  }
  std::copy(Wt.begin(), Wt.end(), out.weights.begin() + r0 * C);
}

}  // namespace

Result<SparseGptResult> SparseGptPrune(std::span<const float> W, int64_t C_out, int64_t C_in,
                                       std::span<const double> H, const SparsityTarget& target,
                                       const SparseGptOptions& options, ThreadPool& pool) {
  if (C_out < 1 || C_in < 1 || static_cast<int64_t>(W.size()) != C_out * C_in ||
      static_cast<int64_t>(H.size()) != C_in * C_in) {
    return Status::Errorf("SparseGPT: shapes do not match W: ({}, {}), H: {} entries", C_out, C_in,
                          H.size());
  }
  if (options.block_columns < 1) return Status::Error("SparseGPT: block_columns must be >= 1");
  if (!target.pattern()) SHRINK_RETURN_IF_ERROR(CheckSparsity(target.sparsity));
  SHRINK_RETURN_IF_ERROR(CheckPatternFits(target, C_in, "SparseGPT"));

  Sweep s;
  s.C_in = C_in;
  s.target = target;
  s.scope = options.mask_scope;
  s.batch = std::min<int64_t>(options.block_columns, C_in);
  if (target.pattern()) s.batch = std::max<int64_t>(target.m, s.batch / target.m * target.m);
  SHRINK_ASSIGN_OR_RETURN(
      InverseHessian ih,
      InverseHessianFactor(H, C_in,
                           {.percdamp = options.percdamp, .threads = options.blas_threads}));
  s.U.assign(ih.upper.begin(), ih.upper.end());
  ih.upper = {};
  s.inv_d2.resize(static_cast<size_t>(C_in));
  for (int64_t j = 0; j < C_in; ++j) {
    const double d = s.U[j * C_in + j];
    s.inv_d2[j] = ih.dead[j] ? 0.0f : static_cast<float>(1.0 / (d * d));
  }

  SparseGptResult result;
  result.damp = ih.damp;
  for (uint8_t d : ih.dead) result.dead_columns += d;
  result.weights.resize(static_cast<size_t>(C_out * C_in));
  result.mask.assign(static_cast<size_t>(C_out * C_in), 0);
  // Tiles of rows: a tile's copy of W and its errors stay small (16 rows of 8192 floats: 512 KB).
  constexpr int64_t kTileRows = 16;
  const int64_t n_tiles = (C_out + kTileRows - 1) / kTileRows;
  pool.Run(n_tiles, 1, [&](int64_t begin, int64_t end, int /*thread*/) {
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t r0 = tile * kTileRows;
      PruneTile(s, W, r0, std::min(kTileRows, C_out - r0), result);
    }
  });
  for (uint8_t m : result.mask) result.removed += m;
  return result;
}

}  // namespace shrink
