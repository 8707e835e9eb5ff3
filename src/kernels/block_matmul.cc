// Compiles the in-place products once per SIMD target (Highway's foreach_target) and exports one
// dispatched entry per op.
#include "kernels/block_matmul.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/block_matmul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/block_gemm-inl.h"
#include "kernels/block_matmul-inl.h"
#include "kernels/reference.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {

void QuantizeActivationsTarget(const float* x, int64_t n, ActBlock* out) {
#if SHRINK_HAVE_UNIT_VECTORS
  QuantizeActivationBlocks(x, n, out);
#else
  reference::QuantizeActivations(x, n, out);
#endif
}

// Weight rows of a float product dotted together (FloatRowsTile): independent accumulation chains
// and one activation load for both.
inline constexpr int kFloatRowTile = 2;

template <class W>
void FloatRows(const MatrixRef& w, const float* x, int64_t T, int64_t r0, int64_t r1, float* y) {
  const auto* rows = reinterpret_cast<const typename W::T*>(w.data.data());
  auto rows_from = [&]<int NR>(int64_t r) {
    const typename W::T* rp[NR];
    for (int i = 0; i < NR; ++i) rp[i] = rows + (r + i) * w.cols;
    ForEachTokenTile(T, [&]<int NT>(int64_t t0) {
      const float* xt[NT];
      float out[NR][NT];
      for (int t = 0; t < NT; ++t) xt[t] = x + (t0 + t) * w.cols;
      FloatRowsTile<W, NR, NT>(rp, w.cols, xt, out);
      for (int i = 0; i < NR; ++i) {
        for (int t = 0; t < NT; ++t) y[(t0 + t) * w.rows + r + i] = out[i][t];
      }
    });
  };
  int64_t r = r0;
  for (; r + kFloatRowTile <= r1; r += kFloatRowTile)
    rows_from.template operator()<kFloatRowTile>(r);
  for (; r < r1; ++r) rows_from.template operator()<1>(r);
}

#if SHRINK_HAVE_UNIT_VECTORS
// Weight rows processed together (UnitTile): each loaded activation block (and the biased
// weights' start, ProductStart) serves all of them. Batches take 2; one-token products
// (generation) 4: with the group scale products (unit_scales-inl.h) the per-unit work is short
// enough that more independent FMA chains pay (Zen 5, kernels_benchmark Generation CPU time, 4
// vs 2 rows: Q6_K 46 vs 51-54 µs, Q5_0 44 vs 49-55, Q8_0 43-44 vs 46-51, Q4_K 35-38 vs 39-41,
// Q4_0 equal; on main's kernels 4 rows were 20-30 % slower on Q4_K/Q6_K in one loaded Xeon run).
inline constexpr int kRowTile = 2;
inline constexpr int kOneTokenRowTile = 4;

// A thread's ActFactors (unit_scales-inl.h) for the row kernels, grown once.
struct FactorScratch {
  std::vector<float> floats;
  std::vector<ActFactors> rows;  // per activation row
};
FactorScratch& ThreadFactorScratch() {
  thread_local FactorScratch scratch;
  return scratch;
}

template <class U>
void UnitRows(const MatrixRef& w, const ActBlock* xq, int64_t T, int64_t r0, int64_t r1, float* y) {
  using Block = typename U::Block;
  const int64_t n_blocks = w.cols / (kUnitElements * U::kUnits);
  const int64_t x_blocks = w.cols / kActBlockElements;  // per activation row
  const auto* rows = reinterpret_cast<const Block*>(w.data.data());
  FactorScratch& scratch = ThreadFactorScratch();
  if (static_cast<int64_t>(scratch.floats.size()) < T * x_blocks * kActFactorFloats) {
    scratch.floats.resize(T * x_blocks * kActFactorFloats);
  }
  if (static_cast<int64_t>(scratch.rows.size()) < T) scratch.rows.resize(T);
  // Asked for before the factors are computed, so the first lines arrive meanwhile.
  PrefetchChunkStart(rows + r0 * n_blocks,
                     (r1 - r0) * n_blocks * static_cast<int64_t>(sizeof(Block)));
  ActFactors* factors = scratch.rows.data();
  for (int64_t t = 0; t < T; ++t) {
    factors[t] = FillActFactors(xq + t * x_blocks, x_blocks,
                                scratch.floats.data() + t * x_blocks * kActFactorFloats);
  }
  auto rows_from = [&]<int NR>(int64_t r) {
    const Block* rp[NR];
    for (int i = 0; i < NR; ++i) rp[i] = rows + (r + i) * n_blocks;
    ForEachTokenTile(T, [&]<int NT>(int64_t t0) {
      const ActBlock* xt[NT];
      for (int t = 0; t < NT; ++t) xt[t] = xq + (t0 + t) * x_blocks;
      float out[NR][NT];
      UnitTile<U, NR, NT>(rp, n_blocks, xt, factors + t0, out);
      for (int i = 0; i < NR; ++i) {
        for (int t = 0; t < NT; ++t) y[(t0 + t) * w.rows + r + i] = out[i][t];
      }
    });
  };
  int64_t r = r0;
  if constexpr (kOneTokenRowTile != kRowTile) {
    if (T == 1) {
      for (; r + kOneTokenRowTile <= r1; r += kOneTokenRowTile) {
        const Block* rp[kOneTokenRowTile];
        for (int i = 0; i < kOneTokenRowTile; ++i) rp[i] = rows + (r + i) * n_blocks;
        float out[kOneTokenRowTile][1];
        UnitTile<U, kOneTokenRowTile, 1>(rp, n_blocks, &xq, factors, out);
        for (int i = 0; i < kOneTokenRowTile; ++i) y[r + i] = out[i][0];
      }
    }
  }
  for (; r + kRowTile <= r1; r += kRowTile) rows_from.template operator()<kRowTile>(r);
  for (; r < r1; ++r) rows_from.template operator()<1>(r);
}
#endif

void DecodeRowsTarget(const MatrixRef& w, int64_t r0, int64_t r1, float* out) {
  const int64_t row_bytes = static_cast<int64_t>(w.data.size()) / w.rows;
  const uint8_t* first = w.data.data() + r0 * row_bytes;
  const bool is_float = VisitFloatWeights(w.type, [&](auto weights) {
    using W = decltype(weights);
    const auto* rows = reinterpret_cast<const typename W::T*>(first);
    for (int64_t r = 0; r < r1 - r0; ++r) {
      DecodeFloatRow<W>(rows + r * w.cols, w.cols, out + r * w.cols);
    }
  });
  if (is_float) return;
#if SHRINK_HAVE_UNIT_VECTORS
  const bool known = VisitUnits(w.type, [&](auto units) {
    using U = decltype(units);
    const int64_t n_blocks = w.cols / (kUnitElements * U::kUnits);
    const auto* rows = reinterpret_cast<const typename U::Block*>(first);
    for (int64_t r = r0; r < r1; ++r) {
      DecodeUnitRow<U>(rows + (r - r0) * n_blocks, n_blocks, out + (r - r0) * w.cols);
    }
  });
  if (known) return;
#endif
  Traits(w.type).decode(first, out, (r1 - r0) * w.cols);
}

void BlockMatMulRowsTarget(const MatrixRef& w, const float* x, const ActBlock* xq, int64_t T,
                           int64_t r0, int64_t r1, float* y) {
  const bool is_float = VisitFloatWeights(
      w.type, [&](auto weights) { FloatRows<decltype(weights)>(w, x, T, r0, r1, y); });
  if (is_float) return;
#if SHRINK_HAVE_UNIT_VECTORS
  VisitUnits(w.type, [&](auto units) { UnitRows<decltype(units)>(w, xq, T, r0, r1, y); });
#else
  reference::QuantizedMatMulRows(w, xq, T, r0, r1, y);
#endif
}

#if SHRINK_HAVE_UNIT_VECTORS
// A thread's scratch for the prompt kernels: one weight row group or chunk, grown once.
struct GemmScratch {
  std::vector<uint8_t> quads;
  std::vector<float> floats;
};
GemmScratch& ThreadGemmScratch() {
  thread_local GemmScratch scratch;
  return scratch;
}
#endif

void BlockGemmRowsTarget(const MatrixRef& w, const float* x, const ActBlock* xq, int64_t T,
                         int64_t r0, int64_t r1, float* y) {
  (void)x;  // integer formats only (block_matmul.h)
#if SHRINK_HAVE_UNIT_VECTORS
  GemmScratch& scratch = ThreadGemmScratch();
  VisitUnits(w.type, [&](auto units) {
    UnitGemmRows<decltype(units)>(w, xq, T, r0, r1, y, scratch.quads, scratch.floats);
  });
#else
  reference::QuantizedMatMulRows(w, xq, T, r0, r1, y);
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu_target.h"

namespace shrink {
namespace {

// SHRINK_CPU, applied before the first dispatch; a bad value is reported once and ignored here
// (the CLI reports it as an error before any work).
void EnsureCpuTarget() {
  static const bool applied = [] {
    const Status status = ApplyCpuTargetFromEnvironment();
    if (!status.ok()) fmt::print(stderr, "shrink: warning: {} (ignored)\n", status.message());
    return true;
  }();
  (void)applied;
}

}  // namespace

HWY_EXPORT(QuantizeActivationsTarget);
HWY_EXPORT(BlockMatMulRowsTarget);
HWY_EXPORT(DecodeRowsTarget);
HWY_EXPORT(BlockGemmRowsTarget);

BlockKernel BlockKernelFor(TensorType type) {
  // The F32/F16/BF16 mapping is target-independent: ask the static target's copy.
  if (HWY_NAMESPACE::VisitFloatWeights(type, [](auto) {})) return BlockKernel::kFloat;
  return VisitUnits(type, [](auto) {}) ? BlockKernel::kInteger : BlockKernel::kNone;
}

void QuantizeActivations(const float* x, int64_t n, ActBlock* out) {
  EnsureCpuTarget();
  HWY_DYNAMIC_DISPATCH(QuantizeActivationsTarget)(x, n, out);
}

void BlockMatMulRows(const MatrixRef& w, const float* x, const ActBlock* xq, int64_t T, int64_t r0,
                     int64_t r1, float* y) {
  EnsureCpuTarget();
  HWY_DYNAMIC_DISPATCH(BlockMatMulRowsTarget)(w, x, xq, T, r0, r1, y);
}

void BlockGemmRows(const MatrixRef& w, const float* x, const ActBlock* xq, int64_t T, int64_t r0,
                   int64_t r1, float* y) {
  EnsureCpuTarget();
  HWY_DYNAMIC_DISPATCH(BlockGemmRowsTarget)(w, x, xq, T, r0, r1, y);
}

void DecodeRows(const MatrixRef& w, int64_t r0, int64_t r1, float* out) {
  EnsureCpuTarget();
  HWY_DYNAMIC_DISPATCH(DecodeRowsTarget)(w, r0, r1, out);
}

}  // namespace shrink
#endif  // HWY_ONCE
