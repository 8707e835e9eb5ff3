// Compares a model's forward pass with a fixture from an independent F64 forward
// (tests/oracles/*_forward_oracle.py). Fixture format: line 1 the input token ids, line 2 the
// oracle's arg max at every position, then "id logit" lines for the largest logits of the last
// position.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/matmul.h"
#include "model/loaders.h"
#include "model/transformer.h"
#include "testing/test_paths.h"

namespace shrink::testing {

// Loads `model_path` (GGUF), runs the fixture's tokens in one batch and expects the same arg max
// at every position and each listed logit within `tolerance`; prints the largest difference.
// Logits of the 8-bit activation products against an exact forward: |Δ| <= this · (1 + |logit|)
// (docs/numerics.md, "Integer kernels", end to end).
inline constexpr double kIntegerLogitTolerance = 0.05;

// Products: exact F32 (every matrix product on F32 activations: SetBlasMinRows(1)) or the
// runtime's default (8-bit activations below BlasMinRows rows, so on the whole short fixture).
enum class OracleProducts { kExactF32, kDefault };

// Exact F32: every position's arg max equals the oracle's and the last position's 64 largest logits
// are within `tolerance` (absolute). kDefault: only the last position is checked, within
// `tolerance` · (1 + |oracle logit|), and its arg max where the oracle's margin over the runner-up
// exceeds twice that.
// `kv_type`: the session's KV cache (kF16 rounds keys and values to F16).
inline void ExpectForwardMatchesOracle(const std::string& model_path,
                                       const std::string& fixture_path, double tolerance,
                                       OracleProducts products = OracleProducts::kExactF32,
                                       TensorType kv_type = TensorType::kF32) {
  const int64_t saved_blas_min_rows = BlasMinRows();
  if (products == OracleProducts::kExactF32) SetBlasMinRows(1);
  struct Restore {
    int64_t rows;
    ~Restore() { SetBlasMinRows(rows); }
  } restore{saved_blas_min_rows};
  const bool exact = products == OracleProducts::kExactF32;
  std::ifstream fixture(SourcePath(fixture_path));
  ASSERT_TRUE(fixture) << "missing fixture " << fixture_path;
  auto read_line = [&] {
    std::string line;
    std::getline(fixture, line);
    std::istringstream in(line);
    std::vector<TokenId> ids;
    for (TokenId t; in >> t;) ids.push_back(t);
    return ids;
  };
  const std::vector<TokenId> tokens = read_line(), argmaxes = read_line();
  ASSERT_EQ(tokens.size(), argmaxes.size());
  auto model = LoadGgufTransformer(model_path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const int V = (*model)->config.vocab_size;
  std::vector<float> logits(tokens.size() * V);
  const PreparedModel prepared(**model);
  InferenceSession session(prepared, static_cast<int32_t>(tokens.size()), kv_type);
  ASSERT_TRUE(session.Evaluate(tokens, logits).ok());
  for (size_t t = 0; exact && t < tokens.size(); ++t) {
    const float* row = logits.data() + t * V;
    EXPECT_EQ(std::max_element(row, row + V) - row, argmaxes[t]) << "position " << t;
  }
  const float* last = logits.data() + (tokens.size() - 1) * V;
  std::vector<std::pair<int, double>> top;  // the oracle's, largest first
  for (int id; fixture >> id;) {
    double expected;
    fixture >> expected;
    top.emplace_back(id, expected);
  }
  ASSERT_EQ(top.size(), 64u);
  double max_err = 0.0, max_rel = 0.0;
  for (const auto& [id, expected] : top) {
    const double bound = exact ? tolerance : tolerance * (1 + std::fabs(expected));
    EXPECT_NEAR(last[id], expected, bound) << "token " << id;
    max_err = std::max(max_err, std::fabs(last[id] - expected));
    max_rel = std::max(max_rel, std::fabs(last[id] - expected) / (1 + std::fabs(expected)));
  }
  if (!exact) {
    const double margin = top[0].second - top[1].second;
    if (margin > 2 * tolerance * (1 + std::fabs(top[0].second))) {
      EXPECT_EQ(std::max_element(last, last + V) - last, argmaxes.back());
    }
  }
  std::cout << "max |logit - oracle| over the 64 largest: " << max_err
            << " (relative to 1 + |logit|: " << max_rel << ")\n";
}

}  // namespace shrink::testing
