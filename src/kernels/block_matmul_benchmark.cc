// Google Benchmark micro-benchmarks of the in-place products (block_matmul.h), one per format and
// batch size, with the bytes of weights streamed (GB/s) and the multiply-adds done (GFLOP/s, 2 per
// weight and activation row), beside a STREAM-style read of the same number of bytes (the machine's
// bandwidth bound for generation). Weights are 64 MiB-ish per matrix set, larger than any cache, and
// cycled through so each product reads them from memory as generation does.
//
//   build/release/src/kernels/kernels_benchmark [--benchmark_filter=Q4_1]
// The products' counters divide by CPU time (on a shared machine wall time includes other
// processes); StreamRead's by wall time, like the generation tokens/s it is the bound for.
#include <benchmark/benchmark.h>
#include <cblas.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/block_matmul.h"
#include "kernels/cpu_target.h"
#include "kernels/float_gemm.h"
#include "kernels/matmul.h"
#include "kernels/random_blocks_test_util.h"

namespace shrink {
namespace {

constexpr int64_t kCols = 1536, kRows = 576;  // SmolLM2's ffn_down
const int64_t kMatrixBytesTarget =
    std::getenv("BENCH_BYTES") ? std::atoll(std::getenv("BENCH_BYTES")) : (96 << 20);

struct Matrices {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<MatrixRef> refs;
};

Matrices Make(TensorType type) {
  Matrices m;
  std::mt19937 rng(1);
  const int64_t one = RowBytes(type, kCols).value() * kRows;
  const int64_t count = std::max<int64_t>(1, kMatrixBytesTarget / one);
  for (int64_t i = 0; i < count; ++i) m.bytes.push_back(RandomBlocks(type, kRows, kCols, rng));
  for (const auto& b : m.bytes) m.refs.push_back({type, kRows, kCols, b});
  return m;
}

void Product(benchmark::State& state, TensorType type) {
  const int64_t T = state.range(0);
  const Matrices m = Make(type);
  std::vector<float> x(T * kCols), y(T * kRows);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  std::vector<ActBlock> xq(T * kCols / kActBlockElements);
  size_t i = 0;
  for (auto _ : state) {
    const MatrixRef& w = m.refs[i++ % m.refs.size()];
    if (BlockKernelFor(type) == BlockKernel::kInteger)
      QuantizeActivations(x.data(), T * kCols, xq.data());
    BlockMatMulRows(w, x.data(), xq.data(), T, 0, kRows, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(m.refs[0].data.size());
  state.counters["GB/s"] = benchmark::Counter(
      bytes * state.iterations(), benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kRows * kCols * T * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.SetLabel(CpuTargetName());
}

// A prompt's product through PreparedMatrix on one thread: state.range(1) == 0 the prompt kernels
// (BlockGemmRows; FloatGemm for F16/BF16/F32), 1 the exact F32 products (decoded tiles and
// FloatGemm: SetBlasMinRows). One matrix, reused: a prompt's
// weights are read once per product and the product is bound by arithmetic, not memory.
void Prompt(benchmark::State& state, TensorType type) {
  const int64_t T = state.range(0);
  const bool blas = state.range(1) != 0;
  std::mt19937 rng(3);
  const std::vector<uint8_t> bytes = RandomBlocks(type, kRows, kCols, rng);
  SetMatMulThreads(1);
  const PreparedMatrix m = PreparedMatrix::Prepare({type, kRows, kCols, bytes});
  std::vector<float> x(T * kCols), y(T * kRows);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  const int64_t saved = BlasMinRows();
  SetBlasMinRows(blas ? kPromptMinRows : 0);
  for (auto _ : state) {
    m.MatMul(x.data(), T, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetBlasMinRows(saved);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kRows * kCols * T * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.SetLabel(std::string(CpuTargetName()) + (blas ? " exact F32" : " kernels"));
}

// Our float product (FloatGemm, state.range(0) == 0) against OpenBLAS sgemm (1) on the same F32
// operands, one thread: x (512, kCols) · Wᵀ, W (kRows, kCols); and attention's shapes (range(1)
// == 1): scores of 512 queries against 512 keys of head_dim 64. The evidence that taking BLAS
// out of the inference path costs nothing (OpenBLAS's threads: 1).
void FloatVsSgemm(benchmark::State& state) {
  const bool sgemm = state.range(0) != 0;
  const bool attention = state.range(1) != 0;
  const int64_t T = 512, N = attention ? 512 : kRows, K = attention ? 64 : kCols;
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(T * K), w(N * K), y(T * N);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = normal(rng);
  openblas_set_num_threads(1);
  for (auto _ : state) {
    if (sgemm) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), static_cast<int>(N),
                  static_cast<int>(K), 1.0f, x.data(), static_cast<int>(K), w.data(),
                  static_cast<int>(K), 0.0f, y.data(), static_cast<int>(N));
    } else {
      FloatGemm(x.data(), K, T, K,
                {.type = TensorType::kF32,
                 .layout = FloatOperand::Layout::kRowsOfN,
                 .data = w.data(),
                 .stride = K},
                0, N, y.data(), N);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * N * K * T * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.SetLabel(std::string(CpuTargetName()) + (sgemm ? " OpenBLAS sgemm" : " FloatGemm"));
}

// One generated token's product y = x · Wᵀ through PreparedMatrix (activation quantization
// included, as in the model) on state.range(2) kernel threads (the model's row split), for a
// model's own shape: state.range(0) rows, state.range(1) columns. Copies of the matrix are cycled until at least 96 MiB (BENCH_BYTES) are
// read per cycle, so every product streams its weights from memory; GB/s of wall time, comparable
// with StreamRead's. Gemma-3-270M's tied output (262,144 × 640 Q8_0, 170 MiB: 70 % of the bytes a
// token reads) is the case this was written for.
void Generation(benchmark::State& state, TensorType type) {
  const int64_t rows = state.range(0), cols = state.range(1);
  std::mt19937 rng(5);
  const int64_t one = RowBytes(type, cols).value() * rows;
  const int64_t count = std::max<int64_t>(1, kMatrixBytesTarget / one);
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<PreparedMatrix> matrices;
  for (int64_t i = 0; i < count; ++i) bytes.push_back(RandomBlocks(type, rows, cols, rng));
  for (const auto& b : bytes) matrices.push_back(PreparedMatrix::Prepare({type, rows, cols, b}));
  SetMatMulThreads(static_cast<int>(state.range(2)));
  std::vector<float> x(cols), y(rows);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  size_t i = 0;
  for (auto _ : state) {
    matrices[i++ % matrices.size()].MatMul(x.data(), 1, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(one) * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  state.SetLabel(CpuTargetName());
  SetMatMulThreads(1);
}

// The bandwidth bound: sum 64-bit words over the same total bytes, cycled the same way.
void StreamRead(benchmark::State& state) {
  const Matrices m = Make(TensorType::kQ4_1);
  size_t i = 0;
  for (auto _ : state) {
    const std::vector<uint8_t>& b = m.bytes[i++ % m.bytes.size()];
    uint64_t sum = 0;
    for (size_t k = 0; k + 8 <= b.size(); k += 8) {
      uint64_t v;
      std::memcpy(&v, b.data() + k, 8);
      sum += v;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(m.bytes[0].size()) * state.iterations(),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// The same read on every thread of a multi-threaded run (->Threads(n)), each over its own copy: the
// machine's read bandwidth at n threads (the bound for generation at n threads; issue 8's F16
// arithmetic in BENCHMARKS.md). Google Benchmark sums the threads' bytes.
void ParallelStreamRead(benchmark::State& state) { StreamRead(state); }

#if defined(__x86_64__)
// The F32 multiply-add peak of one core: 12 independent chains of 16-lane FMAs (more than the
// 2 ports × 4 cycles of latency keep busy), nothing else in the loop.
__attribute__((target("avx512f"), noinline)) float FmaChainsAvx512(int64_t iterations) {
  __m512 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_fmadd_ps(acc[k], m, a);
  }
  __m512 sum = acc[0];
  for (int k = 1; k < 12; ++k) sum = _mm512_add_ps(sum, acc[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  return total;
}

void FmaPeak(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) {
    state.SkipWithError("no AVX-512");
    return;
  }
  constexpr int64_t kIterations = 1 << 20;
  for (auto _ : state) {
    int64_t n = kIterations;
    benchmark::DoNotOptimize(n);  // an opaque count: the call cannot be hoisted out of the loop
    benchmark::DoNotOptimize(FmaChainsAvx512(n));
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * 16 * 12 * kIterations * state.iterations(),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
#endif

void RegisterAll() {
  // Wall time, as the tokens/s it bounds (bench/runtime_vs_llama_cpp.sh reads it).
  benchmark::RegisterBenchmark("StreamRead", StreamRead)->UseRealTime();
  benchmark::RegisterBenchmark("ParallelStreamRead", ParallelStreamRead)
      ->DenseThreadRange(2, std::max(2, static_cast<int>(std::thread::hardware_concurrency())))
      ->UseRealTime();
#if defined(__x86_64__)
  benchmark::RegisterBenchmark("FmaPeak", FmaPeak)->Threads(1)->Threads(2);
#endif
  // Generation/TYPE/rows/cols/threads, at 1 and 2 threads (two threads must read about twice
  // ParallelStreamRead's share of one).
  const auto generation = [](TensorType type,
                             std::initializer_list<std::pair<int64_t, int64_t>> shapes) {
    const std::string name = std::string("Generation/") + std::string(Traits(type).name);
    benchmark::internal::Benchmark* b =
        benchmark::RegisterBenchmark(name.c_str(), Generation, type);
    for (const auto& [rows, cols] : shapes) {
      for (int64_t threads : {1, 2}) b->Args({rows, cols, threads});
    }
    b->UseRealTime();
  };
  // Gemma-3-270M's shapes (rows, cols) and types: output, ffn_up/gate and attn_q, ffn_down.
  generation(TensorType::kQ8_0, {{262144, 640}, {2048, 640}});
  generation(TensorType::kQ5_0, {{2048, 640}, {1024, 640}});
  generation(TensorType::kQ4_K, {{640, 2048}});
  generation(TensorType::kQ6_K, {{640, 2048}});
  // SmolLM2-135M's shapes: output (49,152 × 576), ffn_up/gate (1,536 × 576), ffn_down (576 ×
  // 1,536; the only one whose rows k-quants fit), attention (576 × 576).
  generation(TensorType::kQ4_0, {{49152, 576}, {1536, 576}, {576, 1536}});
  generation(TensorType::kQ4_1, {{49152, 576}, {1536, 576}, {576, 1536}});
  generation(TensorType::kQ8_0, {{576, 576}, {1536, 576}});
  generation(TensorType::kQ4_K, {{576, 1536}});
  generation(TensorType::kQ6_K, {{576, 1536}});
  benchmark::RegisterBenchmark("FloatVsSgemm", FloatVsSgemm)
      ->ArgsProduct({{0, 1}, {0, 1}})
      ->Unit(benchmark::kMillisecond);
  for (TensorType type :
       {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
        TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K,
        TensorType::kF16, TensorType::kBF16, TensorType::kF32}) {
    const std::string name = std::string("Product/") + std::string(Traits(type).name);
    benchmark::RegisterBenchmark(name.c_str(), Product, type)->Arg(1)->Arg(4)->Arg(15);
    const std::string prompt = std::string("Prompt/") + std::string(Traits(type).name);
    benchmark::RegisterBenchmark(prompt.c_str(), Prompt, type)
        ->Args({512, 0})
        ->Args({512, 1})
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace shrink

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  shrink::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
