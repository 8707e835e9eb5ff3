// `shrink bench -m FILE [-p 512] [-n 128] [-t 1,2] [-r 5]`: prompt and generation speed in
// llama-bench's table layout, so the two tools' rows line up.
//
// As llama-bench measures them: ppN evaluates N random tokens (BOS first when the vocabulary adds
// it) from an empty cache in one batch, logits for the last one only; tgN evaluates N single
// tokens from an empty cache, each random, logits for every one. Each test is warmed up as
// llama-bench does (the whole prompt; one generated token), then runs -r times; the table shows the mean ± sample standard deviation of the per-run tokens/s.
// The peak resident memory of the whole run (getrusage) follows the table.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/progress.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "io/gguf.h"
#include "kernels/cpu_target.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "model/transformer.h"
#include "quant/mix.h"

namespace shrink::cli {
namespace {

struct BenchFlags {
  std::string model_path;
  std::vector<int> prompt = {512};
  std::vector<int> gen = {128};
  std::vector<int> threads;  // empty: all cores
  int repetitions = 5;
  std::string tokenizer_path;
  std::string kv_type = "f32";
};

// "llama 135M Q4_1": architecture, parameters (K, M or B), the file type's name (general.file_type as
// llama-quantize names it, else the type holding the most bytes).
std::string ModelLabel(const Model& model, int64_t params) {
  std::string type;
  for (const auto& [key, value] : model.metadata) {
    if (key != "general.file_type" || !value.is_integer()) continue;
    for (const QuantMix& mix : AllMixes()) {
      if (static_cast<int64_t>(mix.llama_ftype) == value.AsInt()) type = mix.name;
    }
  }
  if (type.empty()) {
    std::vector<int64_t> bytes(256, 0);
    model.weights.ForEachTensor([&](const TensorView& t) {
      bytes[static_cast<uint32_t>(t.type) % 256] += static_cast<int64_t>(t.data.size());
    });
    const auto most = std::max_element(bytes.begin(), bytes.end()) - bytes.begin();
    type = Traits(static_cast<TensorType>(most)).name;
  }
  const std::string count = params >= 1'000'000'000 ? fmt::format("{:.1f}B", params / 1e9)
                            : params >= 1'000'000
                                ? fmt::format("{}M", (params + 500'000) / 1'000'000)
                                : fmt::format("{}K", (params + 500) / 1000);
  return fmt::format("{} {} {}", model.config.architecture, count, type);
}

struct Stats {
  double mean = 0, stddev = 0;
};
Stats MeanStddev(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double sq = 0;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(sq / static_cast<double>(v.size() - 1));
  }
  return s;
}

class Bench {
 public:
  Bench(const PreparedModel& prepared, int64_t vocab, TokenId bos, TensorType kv_type)
      : prepared_(prepared), vocab_(vocab), bos_(bos), kv_type_(kv_type), rng_(1234) {}

  // Seconds to evaluate `n` tokens in one batch from an empty cache.
  Result<double> Prompt(int n) {
    InferenceSession session(prepared_, n, kv_type_);
    std::vector<TokenId> tokens(n);
    for (TokenId& t : tokens) t = RandomToken();
    if (bos_ >= 0) tokens[0] = bos_;
    std::vector<float> logits(vocab_);
    const auto t0 = std::chrono::steady_clock::now();
    SHRINK_RETURN_IF_ERROR(session.Evaluate(tokens, logits, n - 1));
    return SecondsSince(t0);
  }

  // Seconds to evaluate `n` single random tokens from an empty cache.
  Result<double> Generate(int n) {
    InferenceSession session(prepared_, n, kv_type_);
    std::vector<float> logits(vocab_);
    TokenId token = bos_ >= 0 ? bos_ : RandomToken();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      SHRINK_RETURN_IF_ERROR(session.Evaluate(std::span(&token, 1), logits));
      token = RandomToken();
    }
    return SecondsSince(t0);
  }

 private:
  TokenId RandomToken() {
    return static_cast<TokenId>(std::uniform_int_distribution<int64_t>(0, vocab_ - 1)(rng_));
  }
  const PreparedModel& prepared_;
  int64_t vocab_;
  TokenId bos_;
  TensorType kv_type_;
  std::mt19937_64 rng_;
};

Status RunBench(const BenchFlags& f) {
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                          LoadModel(f.model_path, {.tokenizer_path = f.tokenizer_path}));
  const Config& c = model->config;
  int64_t params = 0, bytes = 0;
  model->weights.ForEachTensor([&](const TensorView& t) {
    params += t.element_count();
    bytes += static_cast<int64_t>(t.data.size());
  });
  for (int n : f.prompt) {
    SHRINK_RETURN_IF_ERROR(CheckTrainedContext(fmt::format("-p {}", n), n, c.context_length,
                                               /*allow_long_context=*/false));
  }
  for (int n : f.gen) {
    SHRINK_RETURN_IF_ERROR(CheckTrainedContext(fmt::format("-n {}", n), n, c.context_length,
                                               /*allow_long_context=*/false));
  }
  const PreparedModel prepared(*model);
  const TokenId bos = model->tokenizer->adds_bos() ? model->tokenizer->bos() : -1;
  Bench bench(prepared, c.vocab_size, bos, KvTypeFromFlag(f.kv_type));
  std::vector<int> threads = f.threads;
  if (threads.empty())
    threads = {static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};

  const std::string label = ModelLabel(*model, params);
  const std::string backend = "CPU " + CpuTargetName();
  fmt::print("| {:<30} | {:>10} | {:>10} | {:<12} | {:>7} | {:>15} | {:>20} |\n", "model", "size",
             "params", "backend", "threads", "test", "t/s");
  // Right-aligned columns end in ':' as in llama-bench's markdown.
  fmt::print("| {:-<30} | {:->9}: | {:->9}: | {:-<12} | {:->6}: | {:->14}: | {:->19}: |\n", "", "",
             "", "", "", "", "");
  std::fflush(stdout);
  // warm_up: one untimed run first, as llama-bench (the whole prompt; one generated token).
  auto row = [&](int t, const std::string& test, int n, auto&& warm_up, auto&& run) -> Status {
    SHRINK_RETURN_IF_ERROR(warm_up().status());
    std::vector<double> rates;
    for (int r = 0; r < f.repetitions; ++r) {
      SHRINK_ASSIGN_OR_RETURN(double s, run());
      rates.push_back(n / std::max(s, 1e-9));
    }
    const Stats st = MeanStddev(rates);
    fmt::print("| {:<30} | {:>6.2f} MiB | {:>8.2f} M | {:<12} | {:>7} | {:>15} | {:>20} |\n", label,
               bytes / 1048576.0, params / 1e6, backend, t, test,
               fmt::format("{:.2f} ± {:.2f}", st.mean, st.stddev));
    std::fflush(stdout);
    return Status::Ok();
  };
  for (int t : threads) {
    SetMatMulThreads(t);
    for (int n : f.prompt) {
      if (n <= 0) continue;
      auto prompt = [&] { return bench.Prompt(n); };
      SHRINK_RETURN_IF_ERROR(row(t, fmt::format("pp{}", n), n, prompt, prompt));
    }
    for (int n : f.gen) {
      if (n <= 0) continue;
      SHRINK_RETURN_IF_ERROR(row(
          t, fmt::format("tg{}", n), n, [&] { return bench.Generate(1); },
          [&] { return bench.Generate(n); }));
    }
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  fmt::print("\npeak RSS: {:.2f} MiB (model tensors {:.2f} MiB)\n", usage.ru_maxrss / 1024.0,
             bytes / 1048576.0);
  return Status::Ok();
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Prompt and generation speed in llama-bench's table layout, and peak memory");
  cmd->add_option("-m,--model", flags->model_path, "Model file (GGUF or llama2.c checkpoint)")
      ->required();
  cmd->add_option("-p,--n-prompt", flags->prompt, "Prompt lengths (0 skips), comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 20));
  cmd->add_option("-n,--n-gen", flags->gen, "Generated lengths (0 skips), comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(IntegerIn(0, 1 << 20));
  cmd->add_option("-t,--threads", flags->threads,
                  "Thread counts, comma-separated (default: all cores)")
      ->delimiter(',')
      ->check(IntegerIn(1, 1024));
  cmd->add_option("-r,--repetitions", flags->repetitions, "Timed runs per test")
      ->capture_default_str()
      ->check(IntegerIn(1, 1000));
  cmd->add_option("--kv-type", flags->kv_type, kKvTypeHelp)
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16"}));
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "Tokenizer file for llama2.c checkpoints (tok512.bin)");
  cmd->callback([flags] { FinishCommand(RunBench(*flags)); });
}

}  // namespace shrink::cli
