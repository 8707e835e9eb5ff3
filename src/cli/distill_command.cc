// `shrink distill --teacher T --student S --data TEXT --tokens N --out OUT.gguf`: trains the
// student's weights to match the teacher's next-token distribution (train/distill.h: α·τ²·KL at
// temperature τ + (1 − α)·cross-entropy, or reverse KL) with the training engine of `shrink train`
// (train/trainer.h), the teacher running in-process through the inference runtime in whatever type
// it is stored. Optional held-out validation (PPL and KLD against the teacher) every N steps. The
// output is a GGUF with the student's source metadata, written atomically.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "cli/train_loop.h"
#include "cli/trained_output.h"
#include "eval/text_file.h"
#include "model/model.h"
#include "model/prepared_model.h"
#include "pipeline/quantized_training.h"
#include "quant/mix.h"
#include "train/distill.h"
#include "train/token_batches.h"
#include "train/trainer.h"

namespace shrink::cli {
namespace {

struct DistillFlags {
  std::string teacher_path, student_path, data_path, val_path, out_path, type = "F32", quantize;
  std::string loss = "kl";
  int64_t tokens = 0;
  int64_t val_every = 0;
  int64_t val_windows = 8;
  train::DistillLoss distill{.alpha = 0.5f, .tau = 2.0f};
  train::TrainOptions options;
  uint64_t seed = 1;
  int log_every = 1;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CheckpointFlags checkpoint;
};

// The text's tokens with the student's tokenizer (the vocabularies are checked equal).
std::vector<int32_t> Tokens(const Model& model, const std::string& text) {
  const std::vector<TokenId> ids =
      model.tokenizer->Encode(StripOneTrailingNewline(text), /*add_special=*/true,
                              /*parse_special=*/false);
  return {ids.begin(), ids.end()};
}

// Up to `max_windows` non-overlapping windows of seq + 1 tokens from the start of `ids`.
Result<std::vector<int32_t>> ValidationWindows(const std::vector<int32_t>& ids, int64_t seq,
                                               int64_t max_windows, const std::string& path) {
  const int64_t w = std::min<int64_t>(max_windows, (static_cast<int64_t>(ids.size()) - 1) / seq);
  if (w < 1) {
    return Status::Errorf("{}: {} tokens, fewer than one validation sequence of {} + 1", path,
                          ids.size(), seq);
  }
  std::vector<int32_t> out;
  for (int64_t i = 0; i < w; ++i) {
    out.insert(out.end(), ids.begin() + i * seq, ids.begin() + i * seq + seq + 1);
  }
  return out;
}

// The hyperparameters a resumed run must repeat (checkpoint.h compares them flag by flag).
std::vector<train::Hyperparameter> DistillHyperparameters(const DistillFlags& f) {
  std::vector<train::Hyperparameter> h = TrainHyperparameters(f.options, f.seed);
  h.push_back({"--tokens", fmt::format("{}", f.tokens)});
  h.push_back({"--alpha", fmt::format("{}", f.distill.alpha)});
  h.push_back({"--temperature", fmt::format("{}", f.distill.tau)});
  h.push_back({"--loss", f.loss});
  h.push_back({"--quantize", f.quantize});
  return h;
}

Status RunDistill(DistillFlags flags) {
  SHRINK_RETURN_IF_ERROR(CheckOutputFolder(flags.out_path));
  SHRINK_ASSIGN_OR_RETURN(flags.type, TrainedOutputType(flags.type, flags.quantize));
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(flags.type));
  if (flags.loss != "kl" && flags.loss != "reverse-kl") {
    return Status::Errorf("--loss is \"{}\", expected kl or reverse-kl", flags.loss);
  }
  flags.distill.reverse = flags.loss == "reverse-kl";
  if (flags.val_every > 0 && flags.val_path.empty()) {
    return Status::Errorf("--val-every {} needs --val-data", flags.val_every);
  }
  SHRINK_ASSIGN_OR_RETURN(const std::string text, ReadUtf8TextFile(flags.data_path));
  std::string val_text;
  if (!flags.val_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(val_text, ReadUtf8TextFile(flags.val_path));
  }
  const auto t0 = std::chrono::steady_clock::now();
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> teacher, LoadModel(flags.teacher_path));
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> student, LoadModel(flags.student_path));
  SHRINK_RETURN_IF_ERROR(train::CheckSameVocabulary(*teacher, *student)
                             .WithContext(flags.teacher_path + " vs " + flags.student_path));
  train::TrainOptions& o = flags.options;
  o.steps = std::max<int64_t>(1, (flags.tokens + o.batch * o.seq - 1) / (o.batch * o.seq));
  SHRINK_RETURN_IF_ERROR(train::ValidateTrainOptions(o, student->config));
  if (o.seq > teacher->config.context_length) {
    return Status::Errorf("--seq is {}, above the teacher's context length {}", o.seq,
                          teacher->config.context_length);
  }
  const std::vector<int32_t> ids = Tokens(*student, text);
  SHRINK_ASSIGN_OR_RETURN(
      train::TokenBatches batches,
      train::TokenBatches::Create(ids, o.seq, flags.seed).WithContext(flags.data_path));
  std::vector<int32_t> val_windows;
  if (!flags.val_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(val_windows, ValidationWindows(Tokens(*student, val_text), o.seq,
                                                           flags.val_windows, flags.val_path));
  }
  SHRINK_ASSIGN_OR_RETURN(
      train::TrainableModel trainable,
      train::TrainableModel::FromModel(*student).WithContext(flags.student_path));
  train::SetTrainThreads(flags.threads);
  // Quantization-aware distillation: the forward pass reads the grid of the output's plan
  // (pipeline/quantized_training.h), and WriteTrainedGguf below plans the same way, so the file
  // holds exactly the grid the student trained against.
  int64_t fake_quantized = 0;
  if (!flags.quantize.empty()) {
    SHRINK_ASSIGN_OR_RETURN(const TrainedOutputPlan out, PlanTrainedOutput(trainable, *mix));
    train::FakeQuantSpec spec = FakeQuantSpecFor(out.plan, trainable);
    fake_quantized = std::count_if(spec.begin(), spec.end(), [](const train::FakeQuantTensor& t) {
      return t.type != TensorType::kF32;
    });
    SHRINK_RETURN_IF_ERROR(trainable.SetFakeQuant(std::move(spec)));
  }
  const PreparedModel prepared_teacher(*teacher);
  train::Trainer trainer(trainable, o);
  train::Distiller distiller(prepared_teacher, flags.distill, o.batch / o.accum, o.seq);
  TrainLoop loop(
      "distill", flags.checkpoint,
      {.kind = "distill", .hyperparameters = DistillHyperparameters(flags), .data_tokens = ids},
      o.steps, o.batch * o.seq, flags.log_every);
  SHRINK_RETURN_IF_ERROR(loop.ResumeIfAsked(trainable, trainer, batches));
  fmt::print(stderr,
             "distill: teacher {} ({}), student {} ({}), loaded in {:.2f} s; {} tokens of {} in "
             "{} windows of {}\n",
             flags.teacher_path, teacher->config.Summary(), flags.student_path,
             student->config.Summary(), SecondsSince(t0), ids.size(), flags.data_path,
             batches.windows(), o.seq);
  fmt::print(stderr,
             "distill: {} steps of {} × {} tokens ({} micro-batches), loss {}·τ²·{}(τ={}) + "
             "{}·CE, lr {} (warmup {}, cosine to ×{}), seed {}, {} threads\n",
             o.steps, o.batch, o.seq, o.accum, flags.distill.alpha,
             flags.distill.reverse ? "KL(student‖teacher)" : "KL(teacher‖student)",
             flags.distill.tau, 1.0f - flags.distill.alpha, o.schedule.lr, o.schedule.warmup_steps,
             o.schedule.min_lr_ratio, flags.seed, flags.threads);
  if (!flags.quantize.empty()) {
    fmt::print(stderr,
               "distill: quantization-aware: {} of {} tensors fake-quantized as the {} plan "
               "writes them (straight-through gradients to F32 masters)\n",
               fake_quantized, trainable.tensors().size(), flags.quantize);
  }

  auto validate = [&](int64_t step) -> Status {
    if (val_windows.empty()) return Status::Ok();
    SHRINK_ASSIGN_OR_RETURN(const train::DistillEval e, distiller.Evaluate(trainable, val_windows));
    fmt::print(stderr, "distill: validation at step {}: PPL {:.4f} KLD {:.6f} ({} tokens of {})\n",
               step, e.ppl, e.kld, e.tokens, flags.val_path);
    return Status::Ok();
  };
  if (trainer.steps_done() == 0) SHRINK_RETURN_IF_ERROR(validate(0));
  std::vector<int32_t> inputs(static_cast<size_t>(o.batch * o.seq)), targets(inputs.size());
  while (trainer.steps_done() < o.steps) {
    batches.Next(o.batch, inputs, targets);
    SHRINK_ASSIGN_OR_RETURN(const train::StepResult r,
                            trainer.Step(inputs, targets, distiller.Loss(inputs, targets)));
    const int64_t step = trainer.steps_done();
    loop.Progress(step, r,
                  fmt::format(" (KL {:.4f} CE {:.4f})", distiller.last_kl(), distiller.last_ce()));
    if ((flags.val_every > 0 && step % flags.val_every == 0) || step == o.steps) {
      SHRINK_RETURN_IF_ERROR(validate(step));
    }
    SHRINK_RETURN_IF_ERROR(loop.AfterStep(trainable, trainer, batches));
  }
  const auto t2 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(
      WriteTrainedGguf(flags.out_path, flags.type, flags.threads, *student, trainable));
  fmt::print(stderr, "distill: wrote {} ({}) in {:.2f} s\n", flags.out_path, flags.type,
             SecondsSince(t2));
  return Status::Ok();
}

}  // namespace

void AddDistillCommand(CLI::App& app) {
  auto flags = std::make_shared<DistillFlags>();
  CLI::App* cmd = app.add_subcommand(
      "distill",
      "Distill a teacher into a student: α·τ²·KL(teacher‖student) + (1−α)·cross-entropy on text, "
      "AdamW, written as GGUF");
  cmd->add_option("--teacher", flags->teacher_path, "teacher model (GGUF, any type)")->required();
  cmd->add_option("--student", flags->student_path,
                  "student model (GGUF: a pruned or smaller model with the teacher's vocabulary)")
      ->required();
  cmd->add_option("--data", flags->data_path, "UTF-8 training text")->required();
  cmd->add_option("--tokens", flags->tokens, "training tokens (steps = tokens / (batch × seq))")
      ->required()
      ->check(IntegerIn(1, INT64_MAX));
  cmd->add_option("--out", flags->out_path, "GGUF file to write")->required();
  cmd->add_option("--alpha", flags->distill.alpha, "weight of the KL term (1 − α: cross-entropy)")
      ->capture_default_str()
      ->check(FiniteIn(0.0, 1.0));
  cmd->add_option("--temperature", flags->distill.tau, "softmax temperature τ of the KL term")
      ->capture_default_str()
      ->check(FiniteIn(0.0, 100.0, /*lo_open=*/true));
  cmd->add_option("--loss", flags->loss,
                  "kl: KL(teacher‖student) (mean seeking), reverse-kl: KL(student‖teacher)")
      ->capture_default_str();
  cmd->add_option("--val-data", flags->val_path, "held-out UTF-8 text for validation");
  cmd->add_option("--val-every", flags->val_every, "steps between validations (0: start and end)")
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 30));
  cmd->add_option("--val-windows", flags->val_windows, "validation sequences (from the start)")
      ->capture_default_str()
      ->check(IntegerIn(1, 1 << 20));
  flags->options.schedule.lr = 1e-4f;
  AddTrainOptionFlags(cmd, flags->options, flags->seed, flags->threads, flags->log_every);
  cmd->add_option("--type", flags->type, "output type or mix (quantize's names)")
      ->capture_default_str();
  cmd->add_option("--quantize", flags->quantize,
                  "quantization-aware distillation: the student's forward pass reads every tensor "
                  "the type or mix T quantizes as decode(encode(W)) (straight-through gradients), "
                  "and T is written");
  AddCheckpointFlags(cmd, flags->checkpoint);
  cmd->callback([flags] { FinishCommand(RunDistill(*flags)); });
}

}  // namespace shrink::cli
