// Checkpoints: a run resumed from a checkpoint is bit-identical to an uninterrupted one (plain
// cross-entropy training and distillation), and every bad checkpoint is refused with a one-line
// error before any state changes; a failed write (a full disk, injected through RLIMIT_FSIZE)
// leaves the previous checkpoint intact.
#include "train/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/prepared_model.h"
#include "model/tiny_model_test_util.h"
#include "train/distill.h"

namespace shrink::train {
namespace {

constexpr int64_t kSteps = 6;

TrainOptions Options() {
  TrainOptions o;
  o.batch = 2;
  o.accum = 2;
  o.seq = 16;
  o.steps = kSteps;
  o.schedule.lr = 3e-3f;
  o.schedule.warmup_steps = 2;
  return o;
}

std::vector<int32_t> RandomTokens(size_t n, int32_t vocab) {
  std::mt19937 rng(7);
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    student_ = RandomF32Model(TinyTestConfig(2), 11);
    teacher_ = RandomF32Model(TinyTestConfig(3), 12);
    tokens_ = RandomTokens(600, TinyTestConfig().vocab_size);
    run_ = {.kind = "test", .hyperparameters = {{"--lr", "0.003"}}, .data_tokens = tokens_};
  }

  // A fresh run: model from the student's weights, trainer, data order. Held by pointer: the
  // trainer and distiller keep references to the model and teacher.
  struct Run {
    TrainableModel model;
    std::unique_ptr<Trainer> trainer;
    TokenBatches batches;
    std::unique_ptr<PreparedModel> teacher;
    std::unique_ptr<Distiller> distiller;
  };
  std::unique_ptr<Run> Fresh(bool distill) {
    auto r = std::make_unique<Run>(Run{*TrainableModel::FromModel(*student_), nullptr,
                                       *TokenBatches::Create(tokens_, Options().seq, /*seed=*/5),
                                       nullptr, nullptr});
    r->trainer = std::make_unique<Trainer>(r->model, Options());
    if (distill) {
      r->teacher = std::make_unique<PreparedModel>(*teacher_);
      r->distiller =
          std::make_unique<Distiller>(*r->teacher, DistillLoss{.alpha = 0.7f, .tau = 2.0f},
                                      Options().batch / Options().accum, Options().seq);
    }
    return r;
  }
  // Runs steps until `until`, appending the losses.
  static void Steps(Run& r, int64_t until, std::vector<double>& losses) {
    const TrainOptions o = Options();
    std::vector<int32_t> in(static_cast<size_t>(o.batch * o.seq)), tg(in.size());
    while (r.trainer->steps_done() < until) {
      r.batches.Next(o.batch, in, tg);
      Result<StepResult> s = r.distiller ? r.trainer->Step(in, tg, r.distiller->Loss(in, tg))
                                         : r.trainer->Step(in, tg);
      ASSERT_TRUE(s.ok()) << s.status().message();
      losses.push_back(s->loss);
    }
  }

  void ExpectResumeIsIdentical(bool distill) {
    std::vector<double> straight, resumed;
    std::unique_ptr<Run> pa = Fresh(distill);
    Run& a = *pa;
    Steps(a, kSteps, straight);

    const std::string path = TempPath(distill ? "distill.ckpt" : "train.ckpt");
    {
      std::unique_ptr<Run> pb = Fresh(distill);
      Run& b = *pb;
      Steps(b, kSteps / 2, resumed);
      ASSERT_TRUE(SaveTrainingState(path, run_, *b.trainer, b.model, b.batches).ok());
    }  // the first process ends here
    std::unique_ptr<Run> pc = Fresh(distill);
    Run& c = *pc;
    Result<CheckpointProgress> p = ResumeTrainingState(path, run_, *c.trainer, c.model, c.batches);
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_EQ(p->step, kSteps / 2);
    Steps(c, kSteps, resumed);

    // Bit-identical: the same losses and weights, compared exactly.
    ASSERT_EQ(straight.size(), resumed.size());
    for (size_t i = 0; i < straight.size(); ++i) EXPECT_EQ(straight[i], resumed[i]) << "step " << i;
    ASSERT_EQ(a.model.params().size(), c.model.params().size());
    EXPECT_EQ(0, std::memcmp(a.model.params().data(), c.model.params().data(),
                             a.model.params().size_bytes()));
    EXPECT_EQ(a.trainer->optimizer().steps(), c.trainer->optimizer().steps());
    EXPECT_EQ(0, std::memcmp(a.trainer->optimizer().v().data(), c.trainer->optimizer().v().data(),
                             a.trainer->optimizer().v().size_bytes()));
    // And training moved the weights (the comparison above is not between two untouched copies).
    TrainableModel untouched = *TrainableModel::FromModel(*student_);
    EXPECT_NE(0, std::memcmp(a.model.params().data(), untouched.params().data(),
                             untouched.params().size_bytes()));
  }

  std::unique_ptr<Model> student_, teacher_;
  std::vector<int32_t> tokens_;
  CheckpointRun run_;
};

TEST_F(CheckpointTest, ResumedTrainingIsBitIdentical) { ExpectResumeIsIdentical(false); }
TEST_F(CheckpointTest, ResumedDistillationIsBitIdentical) { ExpectResumeIsIdentical(true); }

TEST_F(CheckpointTest, RefusesACheckpointOfAnotherRun) {
  const std::string path = TempPath("refuse.ckpt");
  std::unique_ptr<Run> pr = Fresh(false);
  Run& r = *pr;
  ASSERT_TRUE(SaveTrainingState(path, run_, *r.trainer, r.model, r.batches).ok());
  const std::vector<float> before(r.model.params().begin(), r.model.params().end());
  auto resume_error = [&](const CheckpointRun& run, TrainableModel& model) {
    TrainOptions o = Options();
    Trainer trainer(model, o);
    TokenBatches batches = *TokenBatches::Create(tokens_, o.seq, 5);
    Result<CheckpointProgress> p = ResumeTrainingState(path, run, trainer, model, batches);
    EXPECT_FALSE(p.ok());
    return p.ok() ? std::string() : p.status().message();
  };

  // A different model: three layers instead of two.
  TrainableModel bigger = *TrainableModel::FromModel(*teacher_);
  EXPECT_NE(resume_error(run_, bigger).find("different model"), std::string::npos);
  // A changed hyperparameter: the message names the flag and both values.
  CheckpointRun changed = run_;
  changed.hyperparameters[0].value = "0.001";
  const std::string lr = resume_error(changed, r.model);
  EXPECT_NE(lr.find("--lr is 0.001"), std::string::npos) << lr;
  EXPECT_NE(lr.find("0.003"), std::string::npos) << lr;
  // Other training text.
  std::vector<int32_t> other = tokens_;
  other[100] ^= 1;
  CheckpointRun other_data = run_;
  other_data.data_tokens = other;
  EXPECT_NE(resume_error(other_data, r.model).find("--data"), std::string::npos);
  // Another command's checkpoint.
  CheckpointRun distill = run_;
  distill.kind = "distill";
  EXPECT_NE(resume_error(distill, r.model).find("not of `shrink distill`"), std::string::npos);
  // Nothing was restored by the refused resumes.
  EXPECT_EQ(0, std::memcmp(before.data(), r.model.params().data(), r.model.params().size_bytes()));

  // A flipped byte in the weights, and a truncated file.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string corrupt = bytes;
  corrupt[corrupt.size() / 2] ^= 0x10;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << corrupt;
  EXPECT_NE(resume_error(run_, r.model).find("corrupt"), std::string::npos);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 100);
  EXPECT_NE(resume_error(run_, r.model).find("expected 3 ×"), std::string::npos);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "GGUF";
  EXPECT_NE(resume_error(run_, r.model).find("magic"), std::string::npos);
}

// A write that fails part-way (what a full disk does) returns an error and leaves the previous
// checkpoint readable and unchanged. The failure is real: RLIMIT_FSIZE makes write() fail with
// EFBIG past the limit (SIGXFSZ, which would kill the process, is ignored for the test).
TEST_F(CheckpointTest, AFailedWriteKeepsThePreviousCheckpoint) {
  const std::string path = TempPath("full.ckpt");
  std::vector<double> losses;
  std::unique_ptr<Run> pr = Fresh(false);
  Run& r = *pr;
  Steps(r, 1, losses);
  ASSERT_TRUE(SaveTrainingState(path, run_, *r.trainer, r.model, r.batches).ok());
  const auto size = std::filesystem::file_size(path);
  Steps(r, 2, losses);

  rlimit saved{};
  ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &saved));
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = size / 2;
  ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &small));
  const Status failed = SaveTrainingState(path, run_, *r.trainer, r.model, r.batches);
  ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &saved));
  std::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(failed.ok());

  // The first checkpoint is still there, whole: it resumes at step 1.
  EXPECT_EQ(std::filesystem::file_size(path), size);
  std::unique_ptr<Run> c = Fresh(false);
  Result<CheckpointProgress> p = ResumeTrainingState(path, run_, *c->trainer, c->model, c->batches);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->step, 1);
  // And no temp file is left beside it.
  for (const auto& e : std::filesystem::directory_iterator(TempPath(""))) {
    EXPECT_EQ(e.path().filename().string().find("full.ckpt.tmp"), std::string::npos);
  }
}

TEST(DistillVocabularyTest, DifferentVocabulariesAreRefused) {
  Config small = TinyTestConfig();
  small.vocab_size = 100;
  const auto a = RandomF32Model(TinyTestConfig(), 1), b = RandomF32Model(small, 2);
  const Status s = CheckSameVocabulary(*a, *b);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("128 tokens and the student 100"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckSameVocabulary(*a, *RandomF32Model(TinyTestConfig(3), 3)).ok());
}

}  // namespace
}  // namespace shrink::train
