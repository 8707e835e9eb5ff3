// `shrink train -m MODEL --data TEXT --steps N --out OUT.gguf`: next-token cross-entropy training
// of a model's weights (train/trainer.h: F32 master weights, AdamW, warmup + cosine, clipping,
// gradient accumulation) on a text's tokens in a seeded order (train/token_batches.h), written as a
// GGUF with the source's metadata (F32, or --type re-encodes through the quantizer's writer),
// atomically: an interrupted run leaves no file. --quantize T trains against T's grid
// (quantization-aware training, pipeline/quantized_training.h) and writes that grid.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "cli/train_loop.h"
#include "cli/trained_output.h"
#include "eval/text_file.h"
#include "io/imatrix_file.h"
#include "model/config_metadata.h"
#include "model/model.h"
#include "model/weights.h"
#include "pipeline/quantized_training.h"
#include "quant/importance.h"
#include "quant/mix.h"
#include "train/token_batches.h"
#include "train/trainer.h"

namespace shrink::cli {
namespace {

struct TrainFlags {
  std::string model_path, data_path, out_path, tokenizer_path, type = "F32", quantize;
  std::string imatrix_path;
  std::string rounding = "ggml";  // --rounding: ggml or exact (the fake-quantized grid's steps)
  train::TrainOptions options;
  uint64_t seed = 1;
  int log_every = 1;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CheckpointFlags checkpoint;
};

Status RunTrain(TrainFlags flags) {
  // Cheap checks first: output folder, type, text, before a large model is loaded.
  SHRINK_RETURN_IF_ERROR(CheckOutputFolder(flags.out_path));
  SHRINK_ASSIGN_OR_RETURN(flags.type, TrainedOutputType(flags.type, flags.quantize));
  SHRINK_RETURN_IF_ERROR(CheckTrainingRounding(flags.rounding, flags.quantize));
  SHRINK_ASSIGN_OR_RETURN(const QuantMix* mix, FindMix(flags.type));
  SHRINK_ASSIGN_OR_RETURN(const std::string text, ReadUtf8TextFile(flags.data_path));
  std::optional<ImatrixData> imatrix;
  if (!flags.imatrix_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(imatrix, ReadImatrixFile(flags.imatrix_path));
  }
  const auto t0 = std::chrono::steady_clock::now();
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                          LoadModel(flags.model_path, {.tokenizer_path = flags.tokenizer_path}));
  train::TrainOptions& o = flags.options;
  SHRINK_RETURN_IF_ERROR(train::ValidateTrainOptions(o, model->config));
  const std::vector<TokenId> ids =
      model->tokenizer->Encode(StripOneTrailingNewline(text), /*add_special=*/true,
                               /*parse_special=*/false);
  const std::vector<int32_t> tokens(ids.begin(), ids.end());
  SHRINK_ASSIGN_OR_RETURN(
      train::TokenBatches batches,
      train::TokenBatches::Create(tokens, o.seq, flags.seed).WithContext(flags.data_path));
  SHRINK_ASSIGN_OR_RETURN(train::TrainableModel trainable,
                          train::TrainableModel::FromModel(*model).WithContext(flags.model_path));
  train::SetTrainThreads(flags.threads);
  // The output's plan, made before training: with --quantize the same plan decides what the
  // forward pass fake-quantizes, so the file holds exactly the grid the weights trained on.
  // With --imatrix the plan's matrices are encoded importance-weighted, in the fake-quantized
  // forward and in the file alike.
  SHRINK_ASSIGN_OR_RETURN(const TrainingOutput output,
                          PlanTrainingOutput(*model, trainable, *mix, !flags.quantize.empty(),
                                             imatrix ? &*imatrix : nullptr, flags.imatrix_path,
                                             flags.rounding == "exact"));
  train::Trainer trainer(trainable, o);
  // What a resumed run must share: the optimizer's flags and what the forward pass trains against.
  std::vector<train::Hyperparameter> hyperparameters = TrainHyperparameters(o, flags.seed);
  hyperparameters.push_back({"--quantize", flags.quantize});
  hyperparameters.push_back({"--imatrix", flags.imatrix_path});
  hyperparameters.push_back({"--rounding", flags.rounding});
  TrainLoop loop(
      "train", flags.checkpoint,
      {.kind = "train", .hyperparameters = std::move(hyperparameters), .data_tokens = tokens},
      o.steps, o.batch * o.seq, flags.log_every);
  SHRINK_RETURN_IF_ERROR(loop.ResumeIfAsked(trainable, trainer, batches));
  const double param_mb = static_cast<double>(trainable.params().size()) * 4.0 / (1 << 20);
  fmt::print(stderr,
             "train: {}: {} loaded in {:.2f} s; {} tokens of {} in {} windows of {}; {:.1f} MiB "
             "of weights (×4 with gradients and AdamW moments), {:.1f} MiB of activations\n",
             flags.model_path, model->config.Summary(), SecondsSince(t0), ids.size(),
             flags.data_path, batches.windows(), o.seq, param_mb,
             static_cast<double>(trainable.activation_bytes()) / (1 << 20));
  fmt::print(stderr,
             "train: {} steps of {} × {} tokens ({} micro-batches), lr {} (warmup {}, cosine to "
             "×{}), seed {}, {} threads\n",
             o.steps, o.batch, o.seq, o.accum, o.schedule.lr, o.schedule.warmup_steps,
             o.schedule.min_lr_ratio, flags.seed, flags.threads);
  if (!flags.quantize.empty()) {
    fmt::print(stderr,
               "train: quantization-aware: {} of {} tensors fake-quantized as the {} plan writes "
               "them{} (one more copy of the weights; straight-through gradients to F32 masters)\n",
               output.fake_quantized, trainable.tensors().size(), flags.quantize,
               imatrix ? fmt::format(", {} importance-weighted", output.importance.used) : "");
    if (flags.rounding == "exact") {
      fmt::print(
          stderr,
          "train: --rounding exact: the one-scale blocks' steps searched exactly in {:.2f} s "
          "and kept; codes re-rounded every step\n",
          trainable.fake_quant_seconds());
    }
  }

  std::vector<int32_t> inputs(static_cast<size_t>(o.batch * o.seq)), targets(inputs.size());
  while (trainer.steps_done() < o.steps) {
    batches.Next(o.batch, inputs, targets);
    SHRINK_ASSIGN_OR_RETURN(const train::StepResult r, trainer.Step(inputs, targets));
    loop.Progress(trainer.steps_done(), r, "");
    SHRINK_RETURN_IF_ERROR(loop.AfterStep(trainable, trainer, batches));
  }
  if (!flags.quantize.empty()) {
    fmt::print(stderr, "train: fake quantization took {:.2f} s in {} encodings\n",
               trainable.fake_quant_seconds(), trainable.fake_quant_refreshes());
  }
  const auto t2 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(
      WriteTrainingOutput(flags.out_path, *mix, output, flags.threads, trainable));
  fmt::print(stderr, "train: wrote {} ({}) in {:.2f} s\n", flags.out_path, flags.type,
             SecondsSince(t2));
  return Status::Ok();
}

}  // namespace

void AddTrainCommand(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a model's weights on text (next-token cross-entropy, AdamW, warmup + cosine) and "
      "write them as GGUF");
  train::TrainOptions& o = flags->options;
  o.schedule.lr = 1e-4f;
  cmd->add_option("-m,--model", flags->model_path, "model file (GGUF or llama2.c .bin)")
      ->required();
  cmd->add_option("--data", flags->data_path, "UTF-8 training text")->required();
  cmd->add_option("--out", flags->out_path, "GGUF file to write")->required();
  cmd->add_option("--steps", o.steps, "optimizer steps")->required()->check(IntegerIn(1, 1 << 30));
  AddTrainOptionFlags(cmd, o, flags->seed, flags->threads, flags->log_every);
  cmd->add_option("--type", flags->type, "output type or mix (quantize's names)")
      ->capture_default_str();
  cmd->add_option("--quantize", flags->quantize,
                  "quantization-aware training: the forward pass reads every tensor the type or "
                  "mix T quantizes as decode(encode(W)) (straight-through gradients), and T is "
                  "written");
  cmd->add_option("--imatrix", flags->imatrix_path,
                  "importance matrix (shrink imatrix or llama-imatrix): the output's (and with "
                  "--quantize the training's) rounding is importance-weighted, as quantize's");
  cmd->add_option("--rounding", flags->rounding,
                  "with --quantize: ggml (the type's scale rule, every step) or exact (Q4_0, "
                  "Q5_0, IQ4_NL blocks: quantize --rounding exact's optimal steps, searched once "
                  "on the starting weights and kept; codes re-rounded every step)")
      ->capture_default_str();
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "tokenizer file for llama2.c checkpoints (tok512.bin)");
  AddCheckpointFlags(cmd, flags->checkpoint);
  cmd->callback([flags] { FinishCommand(RunTrain(*flags)); });
}

}  // namespace shrink::cli
