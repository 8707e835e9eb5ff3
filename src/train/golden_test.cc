// Golden test: 10 training steps of stories260K (AdamW, warmup + cosine, clipping, gradient
// accumulation) give the losses and gradient norms that tests/oracles/train_oracle.py, an
// independent F64 numpy implementation, wrote to tests/data/train/stories260k_golden.txt from the
// same initial weights and the same batches (read from that file).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "model/model.h"
#include "testing/test_paths.h"
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

TEST(TrainGoldenTest, Stories260KTenStepsMatchTheNumpyOracle) {
  const auto dir = shrink::testing::SharedPath("models/stories260K");
  SHRINK_SKIP_IF_MISSING(dir / "stories260K.bin");
  const Golden g =
      ReadGolden(shrink::testing::SourcePath("tests/data/train/stories260k_golden.txt").string());
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
  for (int64_t step = 0; step < o.steps; ++step) {
    const std::vector<int32_t>& rows = g.batches[step];
    ASSERT_EQ(static_cast<int64_t>(rows.size()), o.batch * (T + 1));
    std::vector<int32_t> inputs, targets;
    for (int64_t b = 0; b < o.batch; ++b) {
      inputs.insert(inputs.end(), rows.begin() + b * (T + 1), rows.begin() + b * (T + 1) + T);
      targets.insert(targets.end(), rows.begin() + b * (T + 1) + 1,
                     rows.begin() + (b + 1) * (T + 1));
    }
    auto r = trainer.Step(inputs, targets);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // Tolerances. Step 0 is a pure forward/backward: F32 against F64 differs by the F32 rounding
    // of ~30 ops per layer over 5 layers, each ~√K·u relative with K <= 172 (≈ 1e-6), i.e. a few
    // 1e-6 of the loss and the norm. Later steps add the parameters' divergence: AdamW's update
    // m̂/√v̂ is scale-free, so a coordinate whose gradient is within F32 noise of zero may move by
    // up to ±2·lr differently in the two implementations; such coordinates have gradients near
    // zero, so their first-order effect on the loss (gradient × update) is ~1e-6·lr per
    // coordinate, and the second-order effect grows with the step count. 2e-4 relative (about
    // 1e-3 on losses ~3.5 and 2e-3 on norms ~5) covers that drift with room; a wrong op, a wrong
    // schedule value or a missing weight-decay exemption moves the losses by 1e-2 or more
    // (checked by perturbing each during development).
    const double tol = 2e-4;
    EXPECT_NEAR(r->loss, g.losses[step], tol * g.losses[step]) << "step " << step;
    EXPECT_NEAR(r->grad_norm, g.norms[step], tol * g.norms[step]) << "step " << step;
  }
}

}  // namespace
}  // namespace shrink::train
