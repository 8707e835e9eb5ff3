// `shrink generate -m FILE -p PROMPT -n N [--temp T] [--top-p P] [--seed S] [--chat] [--tokenizer
// FILE]`
//
// Streams the generated text (not the prompt) to stdout and the speed to stderr. An empty prompt
// starts from BOS. Generation stops after N tokens or at an end-of-generation token (EOS, EOT,
// <|im_end|>...).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/progress.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "eval/token_scores.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "model/sampler.h"
#include "model/transformer.h"
#include "text/chat_template.h"

namespace shrink::cli {
namespace {

struct GenerateFlags {
  std::string model_path;
  std::string prompt;
  int n_predict = 128;
  float temperature = 0.8f;
  float top_p = 0.9f;
  uint64_t seed = 0;
  bool chat = false;
  std::string tokenizer_path;
  int threads = 0;  // 0 = all cores
  bool allow_long_context = false;
  std::string kv_type = "f32";
};

// Before any work: the positions against the trained context (unless allowed), the session's
// memory against this machine's, and against the session's int32 positions.
Status CheckSessionResources(std::string_view what, int64_t positions, int64_t prompt_tokens,
                             const Config& c, bool allow_long_context, TensorType kv_type) {
  SHRINK_RETURN_IF_ERROR(
      CheckTrainedContext(what, positions, c.context_length, allow_long_context));
  const SessionMemory m = InferenceSession::EstimateMemory(c, positions, prompt_tokens, kv_type);
  const Allocation allocations[] = {
      {fmt::format("KV cache ({} layers × {} positions)", c.n_layers, positions), m.kv_cache},
      {"attention probabilities", m.attention_probs},
      {"activations", m.activations}};
  SHRINK_RETURN_IF_ERROR(CheckFitsInMemory(what, allocations));
  if (positions > INT32_MAX) {
    return Status::Errorf("{} needs {} positions, more than a session holds (2^31 - 1)", what,
                          positions);
  }
  return Status::Ok();
}

Status RunGenerate(const GenerateFlags& f) {
  const int threads = f.threads > 0
                          ? f.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  SetMatMulThreads(threads);

  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                          LoadModel(f.model_path, {.tokenizer_path = f.tokenizer_path}));
  const Tokenizer& tok = *model->tokenizer;

  std::string text = f.prompt;
  if (f.chat) {
    const ChatMessage messages[] = {{"user", f.prompt}};
    SHRINK_ASSIGN_OR_RETURN(text, ApplyChatTemplate(model->chat_template, messages,
                                                    /*add_generation_prompt=*/true));
  }
  std::vector<TokenId> tokens = tok.Encode(text, /*add_special=*/true, /*parse_special=*/f.chat);
  if (tokens.empty()) {
    if (tok.bos() < 0) {
      return Status::Errorf("{}: empty prompt and the vocabulary has no BOS token to start from",
                            f.model_path);
    }
    tokens.push_back(tok.bos());
  }
  const int64_t needed = static_cast<int64_t>(tokens.size()) + f.n_predict;
  SHRINK_RETURN_IF_ERROR(CheckSessionResources(
      fmt::format("the prompt ({} tokens) plus -n {}", tokens.size(), f.n_predict), needed,
      static_cast<int64_t>(tokens.size()), model->config, f.allow_long_context,
      KvTypeFromFlag(f.kv_type)));
  const PreparedModel prepared(*model);
  InferenceSession session(prepared, static_cast<int32_t>(std::max<int64_t>(needed, 1)),
                           KvTypeFromFlag(f.kv_type));
  Sampler sampler({.temperature = f.temperature, .top_p = f.top_p, .seed = f.seed});
  std::vector<float> logits(model->config.vocab_size);

  const auto t0 = std::chrono::steady_clock::now();
  // NaN or infinite logits (a model with broken weights) are an error, not random text or none.
  auto check_logits = [&] {
    return CheckFiniteLogits(logits, model->config.vocab_size, session.position() - 1)
        .WithContext(f.model_path);
  };
  SHRINK_RETURN_IF_ERROR(session.Evaluate(tokens, logits, static_cast<int32_t>(tokens.size()) - 1));
  SHRINK_RETURN_IF_ERROR(check_logits());
  const double prompt_s = SecondsSince(t0);

  const auto t1 = std::chrono::steady_clock::now();
  TokenId prev = tokens.back();
  int generated = 0;
  for (; generated < f.n_predict; ++generated) {
    const TokenId next = sampler.Sample(logits);
    if (tok.IsEndOfGeneration(next)) break;
    // llama2.c's decoder drops the leading space of the piece after BOS; TokenToPieceAfter knows.
    const std::string piece = tok.TokenToPieceAfter(prev, next, /*render_special=*/false);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    prev = next;
    if (generated + 1 < f.n_predict) {
      SHRINK_RETURN_IF_ERROR(session.Evaluate(std::span(&next, 1), logits));
      SHRINK_RETURN_IF_ERROR(check_logits());
    }
  }
  std::fputc('\n', stdout);
  std::fflush(stdout);
  const double gen_s = SecondsSince(t1);
  fmt::print(stderr,
             "prompt: {} tokens in {:.3f} s ({:.1f} tok/s); generated: {} tokens in {:.3f} s "
             "({:.1f} tok/s); {} threads\n",
             tokens.size(), prompt_s, tokens.size() / std::max(prompt_s, 1e-9), generated, gen_s,
             generated / std::max(gen_s, 1e-9), threads);
  return Status::Ok();
}

}  // namespace

void AddGenerateCommand(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt");
  cmd->add_option("-m,--model", flags->model_path, "Model file (GGUF or llama2.c checkpoint)")
      ->required();
  cmd->add_option("-p,--prompt", flags->prompt, "Prompt text (empty: start from BOS)");
  cmd->add_option("-n,--n-predict", flags->n_predict, "Tokens to generate")
      ->capture_default_str()
      ->check(IntegerIn(0, INT32_MAX));
  cmd->add_option("--temp", flags->temperature, "Temperature (0 = greedy)")
      ->capture_default_str()
      ->check(FiniteIn(0));
  cmd->add_option("--top-p", flags->top_p, "Nucleus sampling mass (1 = off)")
      ->capture_default_str()
      ->check(FiniteIn(0, 1, /*lo_open=*/true));
  cmd->add_option("--seed", flags->seed, "Random seed for sampling")
      ->capture_default_str()
      ->check(IntegerIn(0, UINT64_MAX));
  cmd->add_flag("--chat", flags->chat,
                "Wrap the prompt in the model's chat template and stop at end-of-turn tokens");
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "Tokenizer file for llama2.c checkpoints (tok512.bin)");
  cmd->add_option("--kv-type", flags->kv_type, kKvTypeHelp)
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16"}));
  cmd->add_option("-t,--threads", flags->threads, "Threads (0 = all cores)")
      ->capture_default_str()
      ->check(IntegerIn(0, 1024));
  cmd->add_flag("--allow-long-context", flags->allow_long_context,
                "Allow the prompt plus -n to run past the model's trained context");
  cmd->callback([flags] { FinishCommand(RunGenerate(*flags)); });
}

}  // namespace shrink::cli
