#include "calib/gram.h"

#include <cblas.h>

#include <climits>
#include <vector>

#include "base/check.h"

namespace shrink {
namespace {

void CheckShapes(std::span<const float> x, int64_t T, int64_t C, std::span<double> G) {
  SHRINK_CHECK(T >= 0 && C > 0);
  SHRINK_CHECK(static_cast<int64_t>(x.size()) == T * C);
  SHRINK_CHECK(static_cast<int64_t>(G.size()) == C * C);
}

}  // namespace

void AccumulateGram(std::span<const float> x, int64_t T, int64_t C, std::span<double> G) {
  CheckShapes(x, T, C, G);
  SHRINK_CHECK(T <= INT_MAX && C <= INT_MAX);
  if (T == 0) return;
  // dsyrk needs F64 operands; the conversion is exact.
  const std::vector<double> x64(x.begin(), x.end());
  // Row-major A = x: (T, C), trans: G := 1·Aᵀ·A + 1·G, upper triangle only.
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(C), static_cast<int>(T), 1.0,
              x64.data(), static_cast<int>(C), 1.0, G.data(), static_cast<int>(C));
  // syrk leaves the lower triangle as it was; copying the upper one keeps G exactly symmetric.
  for (int64_t i = 0; i < C; ++i) {
    for (int64_t j = i + 1; j < C; ++j) G[j * C + i] = G[i * C + j];
  }
}

namespace reference {

void AccumulateGram(std::span<const float> x, int64_t T, int64_t C, std::span<double> G) {
  CheckShapes(x, T, C, G);
  for (int64_t i = 0; i < C; ++i) {
    for (int64_t j = 0; j < C; ++j) {
      double sum = 0.0;
      for (int64_t t = 0; t < T; ++t) {
        sum += static_cast<double>(x[t * C + i]) * static_cast<double>(x[t * C + j]);
      }
      G[i * C + j] += sum;
    }
  }
}

}  // namespace reference
}  // namespace shrink
