#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "base/check.h"
#include "kernels/block_matmul.h"
#include "kernels/float_gemm.h"
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

// Generation's split of a product's rows: few chunks, each one contiguous run of rows, claimed so
// that a thread's next chunk continues where its last one ended. A one-token product is a few µs
// of streaming, so what a chunk costs counts: a claim and a completion are two atomics on lines
// the other core owns, and a chunk that does not continue the thread's last one starts a fresh
// stream whose first prefetch distance waits on memory (block_matmul.cc primes it). Zen 5, 2
// threads, SmolLM2 tg128: 8 chunks per thread in index order 208 (Q8_0) / 256 (Q4_0) tokens/s,
// 2 per thread in this order with primed chunks 237 / 359, 1 per thread 251 / 372. Two per thread
// keep some balance when another process takes a core: the thread still running claims the other's
// second chunk.
inline constexpr int kGenerationChunksPerThread = 2;

class OneTokenSplit {
 public:
  OneTokenSplit(int64_t rows, int threads, int per_thread)
      : rows_(rows), threads_(threads), per_thread_(per_thread) {
    // Whole 4-row tiles (block_matmul.cc's one-token tile) except at the end, at least 16 rows.
    const int64_t want = static_cast<int64_t>(threads) * per_thread;
    grain_ = std::max<int64_t>(16, RoundUp((rows + want - 1) / want, 4));
    chunks_ = (rows + grain_ - 1) / grain_;
  }
  int64_t chunks() const { return chunks_; }
  // Claim k (the k-th chunk any thread takes) -> rows [r0, r1): claims 0..threads-1 start the
  // threads' runs of per_thread neighbouring chunks, the next `threads` claims continue them.
  std::pair<int64_t, int64_t> Rows(int64_t k) const {
    int64_t chunk = k;
    if (chunks_ == static_cast<int64_t>(threads_) * per_thread_) {
      chunk = (k % threads_) * per_thread_ + k / threads_;
    }
    const int64_t r0 = chunk * grain_;
    return {r0, std::min(rows_, r0 + grain_)};
  }

 private:
  int64_t rows_;
  int threads_, per_thread_;
  int64_t grain_ = 0, chunks_ = 0;
};

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

// x: (T, cols) -> blocks: T rows of cols / 32 ActBlocks (grown, never shrunk), rows split over
// the pool.
void QuantizeRows(const float* x, int64_t T, int64_t cols, std::vector<ActBlock>& blocks) {
  const int64_t row_blocks = cols / kActBlockElements;
  if (static_cast<int64_t>(blocks.size()) < T * row_blocks) blocks.resize(T * row_blocks);
  KernelThreads().Run(T, 8, [&](int64_t t0, int64_t t1, int) {
    QuantizeActivations(x + t0 * cols, (t1 - t0) * cols, blocks.data() + t0 * row_blocks);
  });
}

// SharedInput's blocks, and which SharedInput last filled them (nullptr: none).
struct SharedBlocks {
  std::vector<ActBlock> blocks;
  const SharedInput* owner = nullptr;
};
SharedBlocks& ThreadSharedBlocks() {
  thread_local SharedBlocks shared;
  return shared;
}

// Operand view of F32/F16/BF16 rows (in place) for FloatGemm.
FloatOperand RowsOperand(TensorType type, const void* data, int64_t cols) {
  return {.type = type, .layout = FloatOperand::Layout::kRowsOfN, .data = data, .stride = cols};
}

// Rows per chunk of a float product: whole panels of FloatGemm (64 rows on AVX-512).
int64_t FloatGrain(int64_t rows, int threads) { return RoundUp(RowGrain(rows, threads), 64); }

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

void PreparedMatrix::ExactMatMul(const float* x, int64_t T, float* y) const {
  ThreadPool& pool = KernelThreads();
  const int64_t K = w_.cols, N = w_.rows;
  if (BlockKernelFor(w_.type) == BlockKernel::kFloat) {
    // F32/F16/BF16 convert exactly inside FloatGemm: no decoded copy.
    pool.Run(N, FloatGrain(N, pool.threads()), [&](int64_t r0, int64_t r1, int) {
      FloatGemm(x, K, T, K, RowsOperand(w_.type, w_.data.data(), K), r0, r1, y, N);
    });
    return;
  }
  // Tiles as large as possible (each product packs the activations' blocks again), at most
  // kMaxTileFloats, and kPromptTiles per matrix so threads share the work and one slowed by
  // another process does not hold the product back.
  const int64_t tile_rows =
      std::clamp<int64_t>(RoundUp((N + kPromptTiles - 1) / kPromptTiles, 64), 64,
                          std::max<int64_t>(64, RoundUp(kMaxTileFloats / K, 64)));
  pool.Run(N, tile_rows, [&](int64_t r0, int64_t r1, int) {
    std::vector<float>& scratch = TileScratch();
    if (static_cast<int64_t>(scratch.size()) < tile_rows * K) scratch.resize(tile_rows * K);
    DecodeRows(w_, r0, r1, scratch.data());
    // y[:, r0:r1] = x · tileᵀ (FloatGemm's sums do not depend on the tile bounds).
    FloatGemm(x, K, T, K, RowsOperand(TensorType::kF32, scratch.data(), K), 0, r1 - r0, y + r0, N);
  });
}

SharedInput::~SharedInput() {
  // A later SharedInput at the same address must not take these blocks for its own.
  SharedBlocks& shared = ThreadSharedBlocks();
  if (shared.owner == this) shared.owner = nullptr;
}

const ActBlock* SharedInput::Blocks() const {
  SharedBlocks& shared = ThreadSharedBlocks();
  if (shared.owner != this) {
    QuantizeRows(x_, T_, cols_, shared.blocks);
    shared.owner = this;
  }
  return shared.blocks.data();
}

bool PreparedMatrix::TakesActivationBlocks(int64_t T) const {
  return strategy_ == MatrixStrategy::kInPlace &&
         BlockKernelFor(w_.type) == BlockKernel::kInteger &&
         T < BlasMinRowsSetting().load(std::memory_order_relaxed);
}

void PreparedMatrix::MatMul(const SharedInput& x, float* y) const {
  SHRINK_CHECK(x.cols() == w_.cols);
  if (TakesActivationBlocks(x.T())) {
    InPlaceMatMul(x.x(), x.T(), x.Blocks(), y);
    return;
  }
  MatMul(x.x(), x.T(), y);
}

void PreparedMatrix::InPlaceMatMul(const float* x, int64_t T, const ActBlock* xq, float* y) const {
  const bool prompt = T >= kPromptMinRows;
  const bool is_float = BlockKernelFor(w_.type) == BlockKernel::kFloat;
  if (T >= BlasMinRowsSetting().load(std::memory_order_relaxed)) {
    ExactMatMul(x, T, y);
    return;
  }
  ThreadPool& pool = KernelThreads();
  if (prompt && is_float) {
    pool.Run(w_.rows, FloatGrain(w_.rows, pool.threads()), [&](int64_t r0, int64_t r1, int) {
      FloatGemm(x, w_.cols, T, w_.cols, RowsOperand(w_.type, w_.data.data(), w_.cols), r0, r1, y,
                w_.rows);
    });
    return;
  }
  if (xq == nullptr && BlockKernelFor(w_.type) == BlockKernel::kInteger) {
    std::vector<ActBlock>& blocks = ActivationScratch();
    QuantizeRows(x, T, w_.cols, blocks);
    xq = blocks.data();
  }
  if (prompt) {
    // Chunks of whole row groups (16 rows: the widest group, block_gemm-inl.h), about 8 per
    // thread; each chunk runs every activation row.
    const int64_t grain = RoundUp(RowGrain(w_.rows, pool.threads()), 16);
    pool.Run(w_.rows, grain,
             [&](int64_t r0, int64_t r1, int) { BlockGemmRows(w_, x, xq, T, r0, r1, y); });
    return;
  }
  const OneTokenSplit split(w_.rows, pool.threads(), kGenerationChunksPerThread);
  pool.Run(split.chunks(), 1, [&](int64_t k, int64_t, int) {
    const auto [r0, r1] = split.Rows(k);
    BlockMatMulRows(w_, x, xq, T, r0, r1, y);
  });
}

void PreparedMatrix::MatMul(const float* x, int64_t T, float* y) const {
  if (strategy_ == MatrixStrategy::kInPlace) {
    InPlaceMatMul(x, T, nullptr, y);
    return;
  }
  const int64_t N = w_.rows, K = w_.cols;
  if (f32_ != nullptr) {
    ThreadPool& pool = KernelThreads();
    pool.Run(N, FloatGrain(N, pool.threads()), [&](int64_t r0, int64_t r1, int) {
      FloatGemm(x, K, T, K, RowsOperand(TensorType::kF32, f32_, K), r0, r1, y, N);
    });
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
