// Golden test: 10 training steps of stories260K (AdamW, warmup + cosine, clipping, gradient
// accumulation) give the losses and gradient norms that tests/oracles/train_oracle.py, an
// independent F64 numpy implementation, wrote to tests/data/train/stories260k_golden.txt from the
// same initial weights and the same batches (read from that file).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/prepared_model.h"
#include "testing/test_paths.h"
#include "train/distill.h"
#include "train/trainer.h"

namespace shrink::train {
namespace {

struct Golden {
  std::map<std::string, double> config;
  std::vector<std::vector<int32_t>> batches;
  std::vector<double> losses, norms;
};

Golden ReadGolden(const std::string& path) {
  Golden g;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind == "config") {
      std::string key;
      double value;
      while (s >> key >> value) g.config[key] = value;
    } else if (kind == "batch") {
      int step;
      s >> step;
      std::vector<int32_t> ids;
      int32_t id;
      while (s >> id) ids.push_back(id);
      g.batches.push_back(std::move(ids));
    } else if (kind == "loss" || kind == "grad_norm") {
      int step;
      double value;
      s >> step >> value;
      (kind == "loss" ? g.losses : g.norms).push_back(value);
    }
  }
  return g;
}

// With `alpha` in the golden file's config, the loss is distillation from a frozen copy of the
// initial weights run by the inference engine (train/distill.h), as the oracle's --alpha does.
void ExpectGoldenSteps(const std::string& golden_file) {
  const auto dir = shrink::testing::SharedPath("models/stories260K");
  SHRINK_SKIP_IF_MISSING(dir / "stories260K.bin");
  const Golden g = ReadGolden(shrink::testing::SourcePath(golden_file).string());
  ASSERT_EQ(g.batches.size(), 10u);
  ASSERT_EQ(g.losses.size(), 10u);
  auto loaded = LoadModel((dir / "stories260K.bin").string(),
                          {.tokenizer_path = (dir / "tok512.bin").string()});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto model = TrainableModel::FromModel(**loaded);
  ASSERT_TRUE(model.ok()) << model.status().message();

  TrainOptions o;
  o.steps = static_cast<int64_t>(g.config.at("steps"));
  o.batch = static_cast<int64_t>(g.config.at("batch"));
  o.accum = static_cast<int64_t>(g.config.at("accum"));
  o.seq = static_cast<int64_t>(g.config.at("seq"));
  o.schedule = {.lr = static_cast<float>(g.config.at("lr")),
                .warmup_steps = static_cast<int64_t>(g.config.at("warmup")),
                .min_lr_ratio = static_cast<float>(g.config.at("min_lr_ratio"))};
  o.adamw = {.beta1 = static_cast<float>(g.config.at("beta1")),
             .beta2 = static_cast<float>(g.config.at("beta2")),
             .eps = static_cast<float>(g.config.at("eps")),
             .weight_decay = static_cast<float>(g.config.at("weight_decay"))};
  o.clip = g.config.at("clip");
  ASSERT_TRUE(ValidateTrainOptions(o, model->config()).ok());
  ASSERT_GT(o.accum, 1);  // the golden file exercises gradient accumulation
  Trainer trainer(*model, o);
  const int64_t T = o.seq;
  std::unique_ptr<PreparedModel> teacher;
  std::unique_ptr<Distiller> distiller;
  if (g.config.contains("alpha")) {
    teacher = std::make_unique<PreparedModel>(**loaded);  // the initial weights, never updated
    distiller =
        std::make_unique<Distiller>(*teacher,
                                    DistillLoss{.alpha = static_cast<float>(g.config.at("alpha")),
                                                .tau = static_cast<float>(g.config.at("tau"))},
                                    o.batch / o.accum, T);
  }
  double worst_loss = 0.0, worst_norm = 0.0;
  for (int64_t step = 0; step < o.steps; ++step) {
    const std::vector<int32_t>& rows = g.batches[step];
    ASSERT_EQ(static_cast<int64_t>(rows.size()), o.batch * (T + 1));
    std::vector<int32_t> inputs, targets;
    for (int64_t b = 0; b < o.batch; ++b) {
      inputs.insert(inputs.end(), rows.begin() + b * (T + 1), rows.begin() + b * (T + 1) + T);
      targets.insert(targets.end(), rows.begin() + b * (T + 1) + 1,
                     rows.begin() + (b + 1) * (T + 1));
    }
    auto r = distiller ? trainer.Step(inputs, targets, distiller->Loss(inputs, targets))
                       : trainer.Step(inputs, targets);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // Tolerance, relative. F32 against F64: each op's F32 rounding is ~√K·u relative for K-term
    // reductions (K <= 172 here, u = 2⁻²⁴: ~8e-7); a dozen ops per layer compound along the
    // residual stream over 5 layers to at most ~1e-5 of the loss and the gradient norm. The
    // parameters then drift apart between the two implementations: AdamW's m̂/√v̂ is
    // scale-free, so a coordinate whose gradient is within F32 noise of zero may move by up to
    // ±lr differently, but such coordinates barely change the loss (gradient × update ≈ 0).
    // Measured: at most 5e-7 on the losses and 3e-6 on the norms over the 10 steps. 2e-5 leaves
    // a factor 7 over the worst measured value and still fails for the smallest change the
    // oracle was run with (weight decay 0.2 instead of 0.1: 2.3e-4 relative on a loss;
    // docs/numerics.md, "Training").
    const double tol = 2e-5;
    EXPECT_NEAR(r->loss, g.losses[step], tol * g.losses[step]) << "step " << step;
    EXPECT_NEAR(r->grad_norm, g.norms[step], tol * g.norms[step]) << "step " << step;
    worst_loss = std::max(worst_loss, std::fabs(r->loss / g.losses[step] - 1.0));
    worst_norm = std::max(worst_norm, std::fabs(r->grad_norm / g.norms[step] - 1.0));
  }
  std::printf("largest relative deviation from the oracle: loss %.3e, gradient norm %.3e\n",
              worst_loss, worst_norm);
}

TEST(TrainGoldenTest, Stories260KTenStepsMatchTheNumpyOracle) {
  ExpectGoldenSteps("tests/data/train/stories260k_golden.txt");
}

// The same steps with α·τ²·KL + (1 − α)·CE against the initial weights (α 0.5, τ 2). The teacher
// runs the F32 inference engine here and numpy's F64 forward in the oracle: the same op-by-op
// rounding argument as above bounds the difference of its logits, so the tolerance stands.
TEST(TrainGoldenTest, Stories260KTenDistillationStepsMatchTheNumpyOracle) {
  ExpectGoldenSteps("tests/data/train/stories260k_distill_golden.txt");
}

}  // namespace
}  // namespace shrink::train
