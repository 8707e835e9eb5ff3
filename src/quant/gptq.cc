#include "quant/gptq.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "calib/inverse_hessian.h"
#include "formats/block_grid.h"
#include "formats/exact_scale.h"
#include "formats/scale_search.h"

namespace shrink {
namespace {

// Everything a row tile reads, shared by all tiles (read-only during the sweep).
struct Sweep {
  const TypeTraits* t;
  const BlockGrid* grid;
  int64_t C_in, B, row_bytes;
  std::vector<int64_t> perm;      // position p of the sweep -> column perm[p]
  std::vector<int64_t> position;  // column c -> its position
  std::vector<uint8_t> dead;      // by position
  std::vector<float> U;           // (C_in, C_in) upper factor, in sweep (position) order, F32
  std::vector<float> importance;  // by column
  int64_t batch;
  // With exact_scale: the format's levels at unit step (one-scale formats); empty otherwise.
  std::vector<float> unit_levels;
};

// A one-scale block whose step is FitScaleExactly's for x under ggml's importance weighting (as
// EncodeRowExactScale, with the whole row's mean square); codes are left for RoundElement.
void EncodeBlockExactScale(const Sweep& s, const float* x, const float* importance,
                           float row_mean_square, uint8_t* block) {
  const int B = static_cast<int>(s.B);
  std::vector<float> w(static_cast<size_t>(B));
  ImportanceWeights(x, importance, B, row_mean_square, w.data());
  std::memset(block, 0, s.t->block_bytes);
  s.grid->set_scale(block, FitScaleExactly(x, w.data(), B, s.unit_levels));
}

// Rows of one tile: bounded so that the tile's level tables (n_levels floats per weight) stay
// within a few MB per thread.
int64_t TileRows(const Sweep& s) {
  constexpr int64_t kLevelBytes = int64_t{8} << 20;
  const int64_t per_row = s.C_in * s.grid->n_levels * static_cast<int64_t>(sizeof(float));
  return std::clamp<int64_t>(kLevelBytes / per_row, 1, 32);
}

void QuantizeTile(const Sweep& s, std::span<const float> W, int64_t r0, int64_t R, uint8_t* out) {
  const int64_t C = s.C_in, B = s.B, L = s.grid->n_levels;
  const int64_t n_blocks = C / B;
  // Wt: (R, C) the tile's rows, columns in sweep order; dead inputs zeroed as GPTQ does.
  std::vector<float> Wt(static_cast<size_t>(R * C));
  std::vector<float> row_mean_square(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) {
    const float* w = W.data() + (r0 + r) * C;
    float sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += w[c] * w[c];
    // The legacy weighted encoders weigh by the row's mean square (ggml's sigma2); the original
    // row's, so the choice does not drift with the updates.
    row_mean_square[r] = sum / static_cast<float>(C);
    for (int64_t p = 0; p < C; ++p) Wt[r * C + p] = s.dead[p] ? 0.0f : w[s.perm[p]];
  }
  std::vector<float> levels(static_cast<size_t>(R * C * L));  // (R, n_blocks, L, B)
  std::vector<uint8_t> opened(static_cast<size_t>(n_blocks), 0);
  std::vector<float> err(static_cast<size_t>(R * s.batch));  // (R, batch)
  std::vector<float> x(static_cast<size_t>(B));
  auto block_bytes = [&](int64_t r, int64_t blk) {
    return out + (r0 + r) * s.row_bytes + blk * s.t->block_bytes;
  };
  auto block_levels = [&](int64_t r, int64_t blk) {
    return levels.data() + (r * n_blocks + blk) * L * B;
  };

  for (int64_t i1 = 0; i1 < C; i1 += s.batch) {
    const int64_t i2 = std::min(i1 + s.batch, C);
    for (int64_t p = i1; p < i2; ++p) {
      const int64_t c = s.perm[p], blk = c / B;
      if (!opened[blk]) {
        opened[blk] = 1;
        // Choose the block's parameters on its current weights. Every column of the block is at a
        // position >= p; those past this batch have not yet received this batch's pending
        // updates (errors of positions [i1, p)), so apply them here.
        for (int64_t r = 0; r < R; ++r) {
          for (int64_t k = 0; k < B; ++k) {
            const int64_t pos = s.position[blk * B + k];
            float v = Wt[r * C + pos];
            if (pos >= i2) {
              for (int64_t q = i1; q < p; ++q) v -= err[r * s.batch + (q - i1)] * s.U[q * C + pos];
            }
            x[k] = v;
          }
          uint8_t* bytes = block_bytes(r, blk);
          if (s.unit_levels.empty()) {
            s.grid->encode_block(x.data(), s.importance.data() + blk * B, row_mean_square[r],
                                 bytes);
          } else {
            EncodeBlockExactScale(s, x.data(), s.importance.data() + blk * B, row_mean_square[r],
                                  bytes);
          }
          s.grid->levels(bytes, block_levels(r, blk));
        }
      }
      const float d = s.U[p * C + p];
      const float* u = s.U.data() + p * C;
      for (int64_t r = 0; r < R; ++r) {
        float* row = Wt.data() + r * C;
        const float w = row[p];
        const float q = RoundElement(*s.grid, block_levels(r, blk), B, block_bytes(r, blk),
                                     static_cast<int>(c % B), w);
        const float e = (w - q) / d;
        err[r * s.batch + (p - i1)] = e;
        for (int64_t k = p + 1; k < i2; ++k) row[k] -= e * u[k];
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
}

}  // namespace

Result<GptqResult> GptqQuantize(std::span<const float> W, int64_t C_out, int64_t C_in,
                                std::span<const double> H, std::span<const float> importance,
                                TensorType type, const GptqOptions& options, ThreadPool& pool) {
  const TypeTraits& t = Traits(type);
  if (t.grid == nullptr) return Status::Errorf("GPTQ: {} has no block grid to round onto", t.name);
  if (C_out < 1 || C_in < 1 || C_in % t.block_elements != 0) {
    return Status::Errorf("GPTQ: {} rows of {} columns: not a whole number of {} blocks of {}",
                          C_out, C_in, t.name, t.block_elements);
  }
  if (static_cast<int64_t>(W.size()) != C_out * C_in ||
      static_cast<int64_t>(H.size()) != C_in * C_in ||
      (!importance.empty() && static_cast<int64_t>(importance.size()) != C_in)) {
    return Status::Errorf("GPTQ: shapes do not match W: ({}, {})", C_out, C_in);
  }
  if (options.block_columns < 1) return Status::Error("GPTQ: block_columns must be >= 1");

  Sweep s;
  s.t = &t;
  s.grid = t.grid;
  s.C_in = C_in;
  s.B = t.block_elements;
  SHRINK_ASSIGN_OR_RETURN(s.row_bytes, RowBytes(type, C_in));
  s.batch = options.block_columns;
  if (options.exact_scale && HasExactScaleEncoder(t)) {
    // Every element of a one-scale format has the same levels: read them at step 1.
    std::vector<uint8_t> probe(t.block_bytes, 0);
    std::vector<float> levels(static_cast<size_t>(t.grid->n_levels * t.block_elements));
    t.grid->set_scale(probe.data(), 1.0f);
    t.grid->levels(probe.data(), levels.data());
    for (int q = 0; q < t.grid->n_levels; ++q)
      s.unit_levels.push_back(levels[q * t.block_elements]);
  }
  s.perm.resize(static_cast<size_t>(C_in));
  std::iota(s.perm.begin(), s.perm.end(), 0);
  if (options.act_order) {
    // Largest diag(H) first; stable, so equal entries keep column order.
    std::stable_sort(s.perm.begin(), s.perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * C_in + a] > H[b * C_in + b]; });
  }
  s.position.resize(static_cast<size_t>(C_in));
  for (int64_t p = 0; p < C_in; ++p) s.position[s.perm[p]] = p;

  std::vector<double> Hp(static_cast<size_t>(C_in * C_in));
  for (int64_t i = 0; i < C_in; ++i) {
    for (int64_t j = 0; j < C_in; ++j) Hp[i * C_in + j] = H[s.perm[i] * C_in + s.perm[j]];
  }
  SHRINK_ASSIGN_OR_RETURN(
      InverseHessian ih,
      InverseHessianFactor(Hp, C_in,
                           {.percdamp = options.percdamp, .threads = options.blas_threads}));
  Hp = {};
  s.dead = std::move(ih.dead);
  s.U.assign(ih.upper.begin(), ih.upper.end());
  ih.upper = {};

  if (!importance.empty()) {
    s.importance.assign(importance.begin(), importance.end());
  } else {
    // diag(H) = 2·mean(x²): the imatrix's weights up to a constant factor. A dead input gets a
    // small positive weight so that no block has all-zero weights (its weights are 0 anyway).
    double mean = 0;
    for (int64_t i = 0; i < C_in; ++i) mean += H[i * C_in + i] / static_cast<double>(C_in);
    s.importance.resize(static_cast<size_t>(C_in));
    for (int64_t i = 0; i < C_in; ++i) {
      s.importance[i] = static_cast<float>(std::max(H[i * C_in + i], 1e-6 * mean));
    }
  }

  GptqResult result;
  result.damp = ih.damp;
  for (uint8_t d : s.dead) result.dead_columns += d;
  result.rows.assign(static_cast<size_t>(C_out * s.row_bytes), 0);
  const int64_t R = TileRows(s);
  const int64_t n_tiles = (C_out + R - 1) / R;
  pool.Run(n_tiles, 1, [&](int64_t begin, int64_t end, int /*thread*/) {
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t r0 = tile * R;
      QuantizeTile(s, W, r0, std::min(R, C_out - r0), result.rows.data());
    }
  });
  return result;
}

}  // namespace shrink
