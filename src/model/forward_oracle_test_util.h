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
#include <vector>

#include "model/loaders.h"
#include "model/transformer.h"
#include "testing/test_paths.h"

namespace shrink::testing {

// Loads `model_path` (GGUF), runs the fixture's tokens in one batch and expects the same arg max
// at every position and each listed logit within `tolerance`; prints the largest difference.
inline void ExpectForwardMatchesOracle(const std::string& model_path,
                                       const std::string& fixture_path, double tolerance) {
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
  InferenceSession session(prepared, static_cast<int32_t>(tokens.size()));
  ASSERT_TRUE(session.Evaluate(tokens, logits).ok());
  for (size_t t = 0; t < tokens.size(); ++t) {
    const float* row = logits.data() + t * V;
    EXPECT_EQ(std::max_element(row, row + V) - row, argmaxes[t]) << "position " << t;
  }
  const float* last = logits.data() + (tokens.size() - 1) * V;
  int checked = 0;
  double max_err = 0.0;
  for (int id; fixture >> id;) {
    double expected;
    fixture >> expected;
    EXPECT_NEAR(last[id], expected, tolerance) << "token " << id;
    max_err = std::max(max_err, std::fabs(last[id] - expected));
    ++checked;
  }
  EXPECT_EQ(checked, 64);
  std::cout << "max |logit - oracle| over the " << checked << " largest: " << max_err << "\n";
}

}  // namespace shrink::testing
