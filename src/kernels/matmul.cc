#include "kernels/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "base/check.h"
#include "kernels/block_matmul.h"
#include "kernels/kernel_threads.h"

namespace shrink {
namespace {

// Rows per claimed chunk: about 8 chunks per thread, so a thread slowed by another process claims
// fewer instead of holding the others back, and never under 16 rows (a chunk costs one atomic
// claim, a row of a small matrix well under a microsecond).
int64_t RowGrain(int64_t rows, int threads) {
  return std::max<int64_t>(16, (rows + 8 * threads - 1) / (8 * threads));
}

// Activation rows from which a product decodes tiles of W and runs sgemm (matmul.h): never by
// default, SHRINK_BLAS_MIN_ROWS when set (0: never), or what SetBlasMinRows chose.
std::atomic<int64_t>& BlasMinRowsSetting() {
  static std::atomic<int64_t> rows = [] {
    const char* value = std::getenv("SHRINK_BLAS_MIN_ROWS");
    if (value == nullptr || *value == '\0') return std::numeric_limits<int64_t>::max();
    const long long n = std::atoll(value);
    return n <= 0 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(n);
  }();
  return rows;
}

// F32 elements of one decoded tile (4 MB): past ~1 MB, larger tiles gain little (pp512 on SmolLM2,
// 1 thread: 64K floats 183 t/s, 256K 201, 1M 208).
constexpr int64_t kMaxTileFloats = int64_t{1} << 20;
// Tiles per matrix for prompts: 4 costs ~6 % more CPU than one whole-matrix sgemm (8: ~10 %;
// pp512 on SmolLM2, task-clock), and gives two tiles per thread at 2 threads.
constexpr int64_t kPromptTiles = 4;

int64_t RoundUp(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// A thread's decoded tile of W (tile_rows, cols): grown once, then reused.
std::vector<float>& TileScratch() {
  thread_local std::vector<float> tile;
  return tile;
}

// The caller's activation blocks: grown once to the largest product, then reused (no allocation
// per token).
std::vector<ActBlock>& ActivationScratch() {
  thread_local std::vector<ActBlock> blocks;
  return blocks;
}

// Whether prompt products on F16/BF16/F32 weights use our tiled kernel (block_gemm-inl.h) instead
// of decoded tiles and sgemm. Off by default: on AVX3_DL (Sapphire Rapids, one thread) OpenBLAS
// reaches ~117 GFLOP/s on SmolLM2's ffn_down, our kernel ~92 (kernels_benchmark Prompt/F16).
// SHRINK_FLOAT_PROMPT_KERNELS=1 turns it on, for measurements.
bool FloatPromptKernels() {
  static const bool on = [] {
    const char* value = std::getenv("SHRINK_FLOAT_PROMPT_KERNELS");
    return value != nullptr && std::atoi(value) != 0;
  }();
  return on;
}

// The caller's packed float activations (prompt products on F16/BF16/F32 weights).
std::vector<float>& PanelScratch() {
  thread_local std::vector<float> panels;
  return panels;
}

}  // namespace

PreparedMatrix PreparedMatrix::Prepare(const MatrixRef& w, MatrixStrategy strategy) {
  PreparedMatrix m;
  m.w_ = w;
  const Result<int64_t> row_bytes = RowBytes(w.type, w.cols);
  SHRINK_CHECK(row_bytes.ok());
  m.row_bytes_ = *row_bytes;
  SHRINK_CHECK(static_cast<int64_t>(w.data.size()) == w.rows * m.row_bytes_);
  if (strategy == MatrixStrategy::kInPlace && BlockKernelFor(w.type) == BlockKernel::kNone) {
    strategy = MatrixStrategy::kDecodeToF32;
  }
  m.strategy_ = strategy;
  if (strategy == MatrixStrategy::kInPlace) return m;
  if (w.type == TensorType::kF32) {
    m.f32_ = reinterpret_cast<const float*>(w.data.data());
  } else if (strategy == MatrixStrategy::kDecodeToF32) {
    m.owned_.resize(static_cast<size_t>(w.rows * w.cols));
    // The whole matrix is one run of blocks: decode it in one call.
    Traits(w.type).decode(w.data.data(), m.owned_.data(), w.rows * w.cols);
    m.f32_ = m.owned_.data();
  }
  return m;
}

void PreparedMatrix::DecodeRow(int64_t r, float* out) const {
  SHRINK_CHECK(r >= 0 && r < w_.rows);
  if (strategy_ == MatrixStrategy::kInPlace) {
    DecodeRows(w_, r, r + 1, out);
  } else if (f32_ != nullptr) {
    std::memcpy(out, f32_ + r * w_.cols, sizeof(float) * w_.cols);
  } else {
    Traits(w_.type).decode(w_.data.data() + r * row_bytes_, out, w_.cols);
  }
}

void PreparedMatrix::TiledBlasMatMul(const float* x, int64_t T, float* y) const {
  ThreadPool& pool = KernelThreads();
  const int K = static_cast<int>(w_.cols), N = static_cast<int>(w_.rows);
  // Tiles as large as possible (each sgemm call packs the activations again), at most
  // kMaxTileFloats, and kPromptTiles per matrix so threads share the work and one slowed by
  // another process does not hold the product back. The tiling depends on the matrix only, never
  // on the thread count: sgemm's results depend on the tile shape.
  const int64_t tile_rows =
      std::clamp<int64_t>(RoundUp((w_.rows + kPromptTiles - 1) / kPromptTiles, 16), 16,
                          std::max<int64_t>(16, kMaxTileFloats / w_.cols));
  pool.Run(w_.rows, tile_rows, [&](int64_t r0, int64_t r1, int) {
    const float* tile = reinterpret_cast<const float*>(w_.data.data()) + r0 * w_.cols;
    if (w_.type != TensorType::kF32) {
      std::vector<float>& scratch = TileScratch();
      if (static_cast<int64_t>(scratch.size()) < tile_rows * w_.cols) {
        scratch.resize(tile_rows * w_.cols);
      }
      DecodeRows(w_, r0, r1, scratch.data());
      tile = scratch.data();
    }
    // y[:, r0:r1] (T, r1 - r0) = x (T, K) · tileᵀ; single-threaded inside (kernel_threads.h).
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T),
                static_cast<int>(r1 - r0), K, 1.0f, x, K, tile, K, 0.0f, y + r0, N);
  });
}

void PreparedMatrix::InPlaceMatMul(const float* x, int64_t T, float* y) const {
  const bool prompt = T >= kPromptMinRows;
  const bool is_float = BlockKernelFor(w_.type) == BlockKernel::kFloat;
  if (T >= BlasMinRowsSetting().load(std::memory_order_relaxed) ||
      (prompt && is_float && !FloatPromptKernels())) {
    TiledBlasMatMul(x, T, y);
    return;
  }
  ThreadPool& pool = KernelThreads();
  const ActBlock* xq = nullptr;
  if (BlockKernelFor(w_.type) == BlockKernel::kInteger) {
    const int64_t row_blocks = w_.cols / kActBlockElements;
    std::vector<ActBlock>& blocks = ActivationScratch();
    if (static_cast<int64_t>(blocks.size()) < T * row_blocks) blocks.resize(T * row_blocks);
    pool.Run(T, 8, [&](int64_t t0, int64_t t1, int) {
      QuantizeActivations(x + t0 * w_.cols, (t1 - t0) * w_.cols, blocks.data() + t0 * row_blocks);
    });
    xq = blocks.data();
  }
  if (prompt && is_float) {
    // Pack the activations once into token panels (block_matmul.h), then split the rows.
    const int64_t P = GemmPanelTokens();
    const int64_t n_panels = (T + P - 1) / P;
    std::vector<float>& panels = PanelScratch();
    if (static_cast<int64_t>(panels.size()) < n_panels * P * w_.cols) {
      panels.resize(n_panels * P * w_.cols);
    }
    pool.Run(n_panels, 1, [&](int64_t p0, int64_t p1, int) {
      PackGemmPanels(x, T, w_.cols, p0, p1, panels.data());
    });
    const int64_t grain = RoundUp(RowGrain(w_.rows, pool.threads()), 24);
    pool.Run(w_.rows, grain, [&](int64_t r0, int64_t r1, int) {
      BlockGemmRows(w_, panels.data(), nullptr, T, r0, r1, y);
    });
    return;
  }
  if (prompt) {
    // Chunks of whole row groups (16 rows: the widest group, block_gemm-inl.h), about 8 per
    // thread; each chunk runs every activation row.
    const int64_t grain = RoundUp(RowGrain(w_.rows, pool.threads()), 16);
    pool.Run(w_.rows, grain,
             [&](int64_t r0, int64_t r1, int) { BlockGemmRows(w_, x, xq, T, r0, r1, y); });
    return;
  }
  pool.Run(w_.rows, RowGrain(w_.rows, pool.threads()),
           [&](int64_t r0, int64_t r1, int) { BlockMatMulRows(w_, x, xq, T, r0, r1, y); });
}

void PreparedMatrix::MatMul(const float* x, int64_t T, float* y) const {
  if (strategy_ == MatrixStrategy::kInPlace) {
    InPlaceMatMul(x, T, y);
    return;
  }
  const int M = static_cast<int>(T), N = static_cast<int>(w_.rows), K = static_cast<int>(w_.cols);
  if (f32_ != nullptr) {
    if (T == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, f32_, K, x, 1, 0.0f, y, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, f32_, K, 0.0f, y,
                  N);
    }
    return;
  }
  // kDecodeRows: decode each weight row once and use it for all T inputs.
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t r = 0; r < w_.rows; ++r) {
    DecodeRow(r, row.data());
    for (int64_t t = 0; t < T; ++t) {
      const float* xt = x + t * K;
      float acc = 0.0f;
      for (int i = 0; i < K; ++i) acc += row[i] * xt[i];
      y[t * N + r] = acc;
    }
  }
}

void SetMatMulThreads(int n) { SetKernelThreads(n); }

int64_t BlasMinRows() { return BlasMinRowsSetting().load(std::memory_order_relaxed); }

void SetBlasMinRows(int64_t rows) {
  BlasMinRowsSetting().store(rows <= 0 ? std::numeric_limits<int64_t>::max() : rows,
                             std::memory_order_relaxed);
}

}  // namespace shrink
