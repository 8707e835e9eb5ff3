// `shrink distill --teacher T --student S --data TEXT --tokens N --out OUT.gguf`: trains the
// student's weights to match the teacher's next-token distribution (train/distill.h: α·τ²·KL at
// temperature τ + (1 − α)·cross-entropy, or reverse KL) with the training engine of `shrink train`
// (train/trainer.h), the teacher running in-process through the inference runtime in whatever type
// it is stored. Optional held-out validation (PPL and KLD against the teacher) every N steps. The
// output is a GGUF with the student's source metadata, written atomically. The student is a file
// (--student) or cut from the teacher by --student-config (prune/student_config.h: fewer layers,
// narrower widths, the teacher's weights selected). --quantize T trains against T's grid
// (importance-weighted with --imatrix) and writes that grid (cli/trained_output.h).
// --teacher-top-k K trains the KL term against the teacher's top K tokens plus a rest bucket
// (train/topk_distill.h); --teacher-cache FILE keeps those per training window on disk
// (train/teacher_cache.h): a later run over the same teacher, data, τ, K and --seq reads them
// instead of running the teacher, and a partial cache (Ctrl-C) is continued.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/hash64.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "cli/train_loop.h"
#include "cli/trained_output.h"
#include "eval/text_file.h"
#include "io/imatrix_file.h"
#include "model/model.h"
#include "model/prepared_model.h"
#include "pipeline/quantized_training.h"
#include "prune/student_config.h"
#include "quant/fallback.h"
#include "quant/mix.h"
#include "train/distill.h"
#include "train/teacher_cache.h"
#include "train/token_batches.h"
#include "train/trainer.h"

namespace shrink::cli {
namespace {

struct DistillFlags {
  std::string teacher_path, student_path, data_path, val_path, out_path, type = "F32", quantize;
  std::string loss = "kl";
  std::string imatrix_path;
  std::string rounding = "ggml";  // --rounding: ggml or exact (the fake-quantized grid's steps)
  std::string student_config;     // --student-config: a student cut from the teacher
  std::string teacher_cache;      // --teacher-cache: the teacher's top-k rows on disk
  int64_t teacher_top_k = 0;      // --teacher-top-k (0: the full distribution)
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

// The text's tokens with `model`'s tokenizer (the student's, whose vocabulary is checked equal to
// the teacher's, or the teacher's for a student cut from it).
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
  h.push_back({"--imatrix", f.imatrix_path});
  h.push_back({"--rounding", f.rounding});
  h.push_back({"--student-config", f.student_config});
  h.push_back({"--teacher-top-k", fmt::format("{}", f.teacher_top_k)});
  return h;
}

// Opens (or creates) --teacher-cache for this run: keyed by the teacher file's bytes, τ, K, --seq,
// the vocabulary and the training tokens (train/teacher_cache.h).
Result<train::TeacherCache> OpenTeacherCache(const DistillFlags& f, const Model& teacher,
                                             const std::vector<int32_t>& ids, int64_t windows) {
  SHRINK_ASSIGN_OR_RETURN(const train::FileIdentity id, train::IdentifyFile(f.teacher_path));
  const train::TeacherCacheKey key{.teacher_bytes = id.bytes,
                                   .teacher_hash = id.hash,
                                   .tau = f.distill.tau,
                                   .k = f.teacher_top_k,
                                   .seq = f.options.seq,
                                   .vocab = teacher.config.vocab_size,
                                   .data_tokens = ids.size(),
                                   .data_hash = HashTokens(ids),
                                   .windows = windows};
  return train::TeacherCache::Open(f.teacher_cache, key);
}

Status RunDistill(DistillFlags flags) {
  SHRINK_RETURN_IF_ERROR(CheckOutputFolder(flags.out_path));
  SHRINK_ASSIGN_OR_RETURN(flags.type, TrainedOutputType(flags.type, flags.quantize));
  SHRINK_RETURN_IF_ERROR(CheckTrainingRounding(flags.rounding, flags.quantize));
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(flags.type));
  if (flags.loss != "kl" && flags.loss != "reverse-kl") {
    return Status::Errorf("--loss is \"{}\", expected kl or reverse-kl", flags.loss);
  }
  flags.distill.reverse = flags.loss == "reverse-kl";
  if (flags.student_path.empty() == flags.student_config.empty()) {
    return Status::Error(
        "give the student as --student FILE or as --student-config SHAPE (one of the two)");
  }
  std::optional<StudentShape> shape;
  if (!flags.student_config.empty()) {
    SHRINK_ASSIGN_OR_RETURN(shape, ParseStudentConfig(flags.student_config));
  }
  if (!flags.teacher_cache.empty() && flags.teacher_top_k == 0) {
    return Status::Error("--teacher-cache needs --teacher-top-k K (the tokens kept per position)");
  }
  if (flags.teacher_top_k > 0 && flags.distill.reverse) {
    return Status::Error(
        "--teacher-top-k works with --loss kl only (reverse KL needs the teacher's probability of "
        "every token the student favours)");
  }
  if (flags.val_every > 0 && flags.val_path.empty()) {
    return Status::Errorf("--val-every {} needs --val-data", flags.val_every);
  }
  SHRINK_ASSIGN_OR_RETURN(const std::string text, ReadUtf8TextFile(flags.data_path));
  std::string val_text;
  if (!flags.val_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(val_text, ReadUtf8TextFile(flags.val_path));
  }
  std::optional<ImatrixData> imatrix;
  if (!flags.imatrix_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(imatrix, ReadImatrixFile(flags.imatrix_path));
  }
  const auto t0 = std::chrono::steady_clock::now();
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> teacher, LoadModel(flags.teacher_path));
  std::unique_ptr<Model> student;
  std::string student_name = flags.student_path;
  if (shape) {
    // Widths must be whole blocks of the smallest type the output's plan may use (a k-quant
    // mix falls back to block-32 types for rows that are not multiples of 256).
    const TensorType smallest = SmallerBlockType(mix->base).value_or(mix->base);
    SHRINK_ASSIGN_OR_RETURN(student,
                            StudentFromTeacher(*teacher, *shape, Traits(smallest).block_elements,
                                               Traits(smallest).name));
    student_name = "--student-config " + flags.student_config;
  } else {
    SHRINK_ASSIGN_OR_RETURN(student, LoadModel(flags.student_path));
    SHRINK_RETURN_IF_ERROR(train::CheckSameVocabulary(*teacher, *student)
                               .WithContext(flags.teacher_path + " vs " + flags.student_path));
  }
  // A student cut from the teacher has no tokenizer of its own: it reads the teacher's tokens.
  const Model& reader = student->tokenizer ? *student : *teacher;
  if (flags.teacher_top_k > teacher->config.vocab_size) {
    return Status::Errorf("--teacher-top-k is {}, above the vocabulary's {} tokens",
                          flags.teacher_top_k, teacher->config.vocab_size);
  }
  train::TrainOptions& o = flags.options;
  o.steps = std::max<int64_t>(1, (flags.tokens + o.batch * o.seq - 1) / (o.batch * o.seq));
  SHRINK_RETURN_IF_ERROR(train::ValidateTrainOptions(o, student->config));
  if (o.seq > teacher->config.context_length) {
    return Status::Errorf("--seq is {}, above the teacher's context length {}", o.seq,
                          teacher->config.context_length);
  }
  const std::vector<int32_t> ids = Tokens(reader, text);
  SHRINK_ASSIGN_OR_RETURN(
      train::TokenBatches batches,
      train::TokenBatches::Create(ids, o.seq, flags.seed).WithContext(flags.data_path));
  std::vector<int32_t> val_windows;
  if (!flags.val_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(val_windows, ValidationWindows(Tokens(reader, val_text), o.seq,
                                                           flags.val_windows, flags.val_path));
  }
  SHRINK_ASSIGN_OR_RETURN(train::TrainableModel trainable,
                          train::TrainableModel::FromModel(*student).WithContext(student_name));
  train::SetTrainThreads(flags.threads);
  // Quantization-aware distillation: the forward pass reads the grid of the output's plan
  // (pipeline/quantized_training.h), the plan the file is written through, so the file holds
  // exactly the grid the student trained against (importance-weighted with --imatrix).
  SHRINK_ASSIGN_OR_RETURN(const TrainingOutput output,
                          PlanTrainingOutput(*student, trainable, *mix, !flags.quantize.empty(),
                                             imatrix ? &*imatrix : nullptr, flags.imatrix_path,
                                             flags.rounding == "exact"));
  std::optional<train::TeacherCache> cache;
  const auto t_cache = std::chrono::steady_clock::now();
  if (!flags.teacher_cache.empty()) {
    SHRINK_ASSIGN_OR_RETURN(cache, OpenTeacherCache(flags, *teacher, ids, batches.windows()));
  }
  const double cache_seconds = SecondsSince(t_cache);
  const PreparedModel prepared_teacher(*teacher);
  train::Trainer trainer(trainable, o);
  train::Distiller distiller(prepared_teacher, flags.distill, o.batch / o.accum, o.seq,
                             {.k = flags.teacher_top_k, .cache = cache ? &*cache : nullptr});
  TrainLoop loop(
      "distill", flags.checkpoint,
      {.kind = "distill", .hyperparameters = DistillHyperparameters(flags), .data_tokens = ids},
      o.steps, o.batch * o.seq, flags.log_every);
  SHRINK_RETURN_IF_ERROR(loop.ResumeIfAsked(trainable, trainer, batches));
  fmt::print(stderr,
             "distill: teacher {} ({}), student {} ({}), loaded in {:.2f} s; {} tokens of {} in "
             "{} windows of {}\n",
             flags.teacher_path, teacher->config.Summary(), student_name, student->config.Summary(),
             SecondsSince(t0), ids.size(), flags.data_path, batches.windows(), o.seq);
  fmt::print(stderr,
             "distill: {} steps of {} × {} tokens ({} micro-batches), loss {}·τ²·{}(τ={}) + "
             "{}·CE, lr {} (warmup {}, cosine to ×{}), seed {}, {} threads\n",
             o.steps, o.batch, o.seq, o.accum, flags.distill.alpha,
             flags.distill.reverse ? "KL(student‖teacher)" : "KL(teacher‖student)",
             flags.distill.tau, 1.0f - flags.distill.alpha, o.schedule.lr, o.schedule.warmup_steps,
             o.schedule.min_lr_ratio, flags.seed, flags.threads);
  if (flags.teacher_top_k > 0) {
    fmt::print(stderr, "distill: teacher as its top {} tokens per position plus the rest{}\n",
               flags.teacher_top_k,
               cache
                   ? fmt::format("; cache {}: {} of {} windows cached, {:.1f} bytes per token "
                                 "(opened in {:.2f} s: teacher file hashed, records checked)",
                                 cache->path(), cache->cached(), batches.windows(),
                                 cache->record_bytes() / static_cast<double>(o.seq), cache_seconds)
                   : "");
  }
  if (!flags.quantize.empty()) {
    fmt::print(stderr,
               "distill: quantization-aware: {} of {} tensors fake-quantized as the {} plan "
               "writes them{} (straight-through gradients to F32 masters)\n",
               output.fake_quantized, trainable.tensors().size(), flags.quantize,
               imatrix ? fmt::format(", {} importance-weighted", output.importance.used) : "");
    if (flags.rounding == "exact") {
      fmt::print(
          stderr,
          "distill: --rounding exact: the one-scale blocks' steps searched exactly in {:.2f} s "
          "and kept; codes re-rounded every step\n",
          trainable.fake_quant_seconds());
    }
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
  std::vector<int64_t> windows(static_cast<size_t>(o.batch));
  while (trainer.steps_done() < o.steps) {
    batches.Next(o.batch, inputs, targets, windows);
    SHRINK_ASSIGN_OR_RETURN(
        const train::StepResult r,
        trainer.Step(inputs, targets, distiller.Loss(inputs, targets, windows)));
    const int64_t step = trainer.steps_done();
    loop.Progress(step, r,
                  fmt::format(" (KL {:.4f} CE {:.4f})", distiller.last_kl(), distiller.last_ce()));
    if ((flags.val_every > 0 && step % flags.val_every == 0) || step == o.steps) {
      SHRINK_RETURN_IF_ERROR(validate(step));
    }
    SHRINK_RETURN_IF_ERROR(loop.AfterStep(trainable, trainer, batches));
  }
  if (flags.teacher_top_k > 0) {
    fmt::print(stderr, "distill: teacher top-k: {} windows read from the cache, {} run{}\n",
               distiller.cache_reads(), distiller.teacher_windows(),
               cache ? fmt::format(" and appended ({} of {} windows now cached)", cache->cached(),
                                   batches.windows())
                     : "");
  }
  if (!flags.quantize.empty()) {
    fmt::print(stderr, "distill: fake quantization took {:.2f} s in {} encodings\n",
               trainable.fake_quant_seconds(), trainable.fake_quant_refreshes());
  }
  const auto t2 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(
      WriteTrainingOutput(flags.out_path, *mix, output, flags.threads, trainable));
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
                  "student model (GGUF: a pruned or smaller model with the teacher's vocabulary)");
  cmd->add_option("--student-config", flags->student_config,
                  "instead of --student: a student cut from the teacher, KEY=VALUE pairs "
                  "layers=N,width=D,heads=H,kv_heads=K,ffn=F (omitted: the teacher's); the "
                  "teacher's layers spread evenly, and in them the FFN channels, heads and "
                  "residual dimensions with the largest weights");
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
  cmd->add_option("--imatrix", flags->imatrix_path,
                  "importance matrix (shrink imatrix or llama-imatrix): the output's (and with "
                  "--quantize the training's) rounding is importance-weighted, as quantize's");
  cmd->add_option("--rounding", flags->rounding,
                  "with --quantize: ggml (the type's scale rule, every step) or exact (Q4_0, "
                  "Q5_0, IQ4_NL blocks: quantize --rounding exact's optimal steps, searched once "
                  "on the starting weights and kept; codes re-rounded every step)")
      ->capture_default_str();
  cmd->add_option("--teacher-top-k", flags->teacher_top_k,
                  "KL against the teacher's K most probable tokens per position plus one bucket "
                  "for the rest (0: the full distribution; --loss kl only)")
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 24));
  cmd->add_option("--teacher-cache", flags->teacher_cache,
                  "with --teacher-top-k: the teacher's top-k rows of every training window in "
                  "FILE, written by the first run (continued after Ctrl-C) and read by later runs "
                  "with the same teacher, data, --seq, --temperature and K instead of running the "
                  "teacher");
  AddCheckpointFlags(cmd, flags->checkpoint);
  cmd->callback([flags] { FinishCommand(RunDistill(*flags)); });
}

}  // namespace shrink::cli
