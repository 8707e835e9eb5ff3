// PoolSgemm against a plain F64 triple loop, for every transpose combination, shapes that split
// into uneven slices along rows and along columns, and 1 to 3 pool threads.
#include "train/pool_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/kernel_threads.h"
#include "train/grad_check_test_util.h"

namespace shrink::train {
namespace {

using testing::RandomVector;

struct Case {
  bool trans_a, trans_b;
  int64_t m, n, k;
};

// C = alpha op(A) op(B) + beta C in F64, the storage conventions of pool_gemm.h.
std::vector<double> Reference(const Case& c, float alpha, const std::vector<float>& a,
                              const std::vector<float>& b, float beta,
                              const std::vector<float>& c0) {
  const int64_t lda = c.trans_a ? c.m : c.k, ldb = c.trans_b ? c.k : c.n;
  std::vector<double> out(c0.size());
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < c.k; ++p) {
        const double av = c.trans_a ? a[p * lda + i] : a[i * lda + p];
        const double bv = c.trans_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += av * bv;
      }
      out[i * c.n + j] = alpha * sum + beta * c0[i * c.n + j];
    }
  }
  return out;
}

TEST(PoolSgemmTest, MatchesTheTripleLoopForEveryTransposeAndSplit) {
  // 300 rows split into uneven slices (kMinSlice 128 → 128, 128, 44 at 3 threads); 260 columns
  // with fewer rows splits the columns instead.
  const std::vector<Case> cases = {{false, true, 300, 70, 33}, {false, false, 300, 70, 33},
                                   {true, false, 300, 70, 33}, {true, true, 300, 70, 33},
                                   {false, true, 50, 260, 17}, {true, false, 50, 260, 17}};
  const float alpha = 0.75f, beta = 1.0f;
  const int restore = KernelThreads().threads();
  for (const Case& c : cases) {
    const std::vector<float> a = RandomVector(c.m * c.k, 1), b = RandomVector(c.k * c.n, 2);
    const std::vector<float> c0 = RandomVector(c.m * c.n, 3);
    const std::vector<double> want = Reference(c, alpha, a, b, beta, c0);
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
      SetKernelThreads(threads);
      std::vector<float> got = c0;
      PoolSgemm(c.trans_a, c.trans_b, c.m, c.n, c.k, alpha, a.data(), c.trans_a ? c.m : c.k,
                b.data(), c.trans_b ? c.k : c.n, beta, got.data(), c.n);
      for (size_t i = 0; i < got.size(); ++i) {
        // Inputs in [-1, 1]: a sum of k F32 products of magnitude <= 1 is off by at most about
        // k² · 2^-24 (6.5e-5 for k = 33); 1e-5 · k (3.3e-4) leaves a fivefold margin.
        ASSERT_NEAR(got[i], want[i], 1e-5 * static_cast<double>(c.k))
            << "case " << c.m << "x" << c.n << "x" << c.k << " trans " << c.trans_a << c.trans_b
            << " threads " << threads << " at " << i;
      }
      // The same thread count gives the same bits on a second call.
      std::vector<float> again = c0;
      PoolSgemm(c.trans_a, c.trans_b, c.m, c.n, c.k, alpha, a.data(), c.trans_a ? c.m : c.k,
                b.data(), c.trans_b ? c.k : c.n, beta, again.data(), c.n);
      ASSERT_EQ(got, again) << "threads " << threads;
    }
  }
  SetKernelThreads(restore);
}

}  // namespace
}  // namespace shrink::train
