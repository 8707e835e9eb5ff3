// `shrink perplexity`: llama-perplexity's perplexity and KL-divergence measurements (see
// eval/perplexity.h for the protocol and eval/logits_file.h for the base file).
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "base/progress.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/resources.h"
#include "eval/kl_divergence.h"
#include "eval/logits_file.h"
#include "eval/perplexity.h"
#include "eval/report.h"
#include "eval/text_file.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "model/transformer.h"

namespace shrink::cli {
namespace {

struct PerplexityFlags {
  std::string model_path, text_path, tokenizer_path, save_path, base_path;
  int32_t n_ctx = 512;
  int32_t max_chunks = -1;
  int threads = std::max(1u, std::thread::hardware_concurrency());
  bool ctx_given = false;
  bool allow_long_context = false;
  bool integer_products = false;
  std::string kv_type = "f32";
};

// Before any work: a chunk of n_ctx tokens against the trained context (unless allowed), and one
// chunk's session, logits (n_ctx, V) and log-prob rows against this machine's memory.
Status CheckChunkResources(std::string_view what, int32_t n_ctx, const Config& c,
                           const PerplexityFlags& flags, bool rows) {
  SHRINK_RETURN_IF_ERROR(
      CheckTrainedContext(what, n_ctx, c.context_length, flags.allow_long_context));
  const SessionMemory m =
      InferenceSession::EstimateMemory(c, n_ctx, n_ctx, KvTypeFromFlag(flags.kv_type));
  const double ctx = n_ctx, V = c.vocab_size;
  const Allocation allocations[] = {
      {fmt::format("attention probabilities ({} heads × {} × {} floats)", c.n_heads, n_ctx, n_ctx),
       m.attention_probs},
      {fmt::format("KV cache ({} layers × {} positions)", c.n_layers, n_ctx), m.kv_cache},
      {"activations", m.activations},
      {fmt::format("logits ({} × {} floats)", n_ctx, c.vocab_size), 4 * ctx * V},
      {"log-prob rows",
       rows ? 2 * double(ScoredPerChunk(n_ctx)) * LogProbRowWords(c.vocab_size) : 0.0}};
  return CheckFitsInMemory(what, allocations);
}

// As llama-perplexity: one trailing newline dropped, special tokens added, special texts not
// parsed.
std::vector<TokenId> Tokenize(const Model& model, const std::string& text) {
  return model.tokenizer->Encode(StripOneTrailingNewline(text), /*add_special=*/true,
                                 /*parse_special=*/false);
}

// One chunk from an empty cache, through the model's session.
ChunkEvaluator SessionEvaluator(InferenceSession& session) {
  return [&session](std::span<const TokenId> tokens, std::span<float> logits) {
    session.Reset();
    return session.Evaluate(tokens, logits);
  };
}

Status RunPerplexityMode(const PerplexityFlags& flags, const std::string& text, const Model& model,
                         const EvalSetup& setup) {
  SHRINK_RETURN_IF_ERROR(CheckChunkResources(fmt::format("--ctx {}", flags.n_ctx), flags.n_ctx,
                                             model.config, flags, !flags.save_path.empty()));
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<TokenId> tokens = Tokenize(model, text);
  // A text too short for the context fails here, before any progress line.
  SHRINK_ASSIGN_OR_RETURN(
      ChunkPlan plan,
      PlanChunks(tokens.size(), flags.n_ctx, flags.max_chunks).WithContext(flags.text_path));
  fmt::print(stderr, "perplexity: {} tokens in {} (tokenized in {:.2f} s)\n", tokens.size(),
             flags.text_path, SecondsSince(t0));
  fmt::print(stderr, "perplexity: calculating perplexity over {} chunks, n_ctx={}\n", plan.n_chunk,
             plan.n_ctx);

  std::unique_ptr<LogitsFileWriter> writer;
  if (!flags.save_path.empty()) {
    LogitsFileHeader header{
        plan.n_ctx, setup.n_vocab, plan.n_chunk,
        std::vector<TokenId>(tokens.begin(), tokens.begin() + size_t(plan.n_chunk) * plan.n_ctx)};
    SHRINK_ASSIGN_OR_RETURN(LogitsFileWriter w, LogitsFileWriter::Create(flags.save_path, header));
    writer = std::make_unique<LogitsFileWriter>(std::move(w));
    fmt::print(stderr, "perplexity: saving all log-probs to {}\n", flags.save_path);
  }

  const PreparedModel prepared(model);
  InferenceSession session(prepared, plan.n_ctx, KvTypeFromFlag(flags.kv_type));
  ProgressReporter progress("perplexity", "chunks", plan.n_chunk);
  NllAccumulator nll;
  const auto t1 = std::chrono::steady_clock::now();
  SHRINK_RETURN_IF_ERROR(RunPerplexity(tokens, plan, setup, SessionEvaluator(session), writer.get(),
                                       nll, [&](int32_t c) {
                                         fmt::print("{}", FormatRunningPpl(c + 1, nll.Ppl()));
                                         std::fflush(stdout);
                                         progress.Update(c + 1);
                                       }));
  progress.Finish();
  if (writer) SHRINK_RETURN_IF_ERROR(writer->Finish());
  fmt::print("\n{}", FormatFinalEstimate(nll));
  const double seconds = SecondsSince(t1);
  fmt::print(stderr, "perplexity: {} chunks in {:.2f} s ({:.1f} tokens/s)\n", plan.n_chunk, seconds,
             plan.n_chunk * double(plan.n_ctx) / seconds);
  return Status::Ok();
}

Status RunKlDivergenceMode(const PerplexityFlags& flags, const std::string& text,
                           const Model& model, const EvalSetup& setup) {
  SHRINK_ASSIGN_OR_RETURN(LogitsFileReader base, LogitsFileReader::Open(flags.base_path));
  const LogitsFileHeader& h = base.header();
  if (h.n_vocab != setup.n_vocab) {
    return Status::Errorf("{}: n_vocab at offset 12 is {}, but {} has a vocabulary of {}",
                          flags.base_path, h.n_vocab, flags.model_path, setup.n_vocab);
  }
  if (flags.ctx_given && flags.n_ctx != h.n_ctx) {
    return Status::Errorf("{}: n_ctx at offset 8 is {}, but --ctx {} was given", flags.base_path,
                          h.n_ctx, flags.n_ctx);
  }
  SHRINK_RETURN_IF_ERROR(
      CheckChunkResources(fmt::format("{}: n_ctx {} (offset 8)", flags.base_path, h.n_ctx), h.n_ctx,
                          model.config, flags, /*rows=*/true));
  if (!flags.text_path.empty()) {
    // The base holds the tokens it was computed on; ours must be the same text, tokenized the same.
    const std::vector<TokenId> tokens = Tokenize(model, text);
    for (size_t i = 0; i < h.tokens.size(); ++i) {
      if (i >= tokens.size() || tokens[i] != h.tokens[i]) {
        return Status::Errorf(
            "{}: token {} at offset {} is {}, but {} tokenizes to {} there (different text or "
            "tokenizer)",
            flags.base_path, i, kLogitsFileHeaderBytes + i * sizeof(TokenId), h.tokens[i],
            flags.text_path, i < tokens.size() ? fmt::format("{}", tokens[i]) : "end of text");
      }
    }
  }
  const int32_t n_chunk = flags.max_chunks >= 0 ? std::min(flags.max_chunks, h.n_chunk) : h.n_chunk;
  fmt::print(stderr, "kl-divergence: computing over {} chunks, n_ctx={} (base {})\n", n_chunk,
             h.n_ctx, flags.base_path);

  const PreparedModel prepared(model);
  InferenceSession session(prepared, h.n_ctx, KvTypeFromFlag(flags.kv_type));
  ProgressReporter progress("kl-divergence", "chunks", n_chunk);
  KldAccumulator kld;
  const auto t1 = std::chrono::steady_clock::now();
  fmt::print("\n{}", KldTableHeader());
  SHRINK_RETURN_IF_ERROR(
      RunKlDivergence(base, n_chunk, setup, SessionEvaluator(session), kld, [&](int32_t c) {
        fmt::print("{}", FormatKldChunkRow(c + 1, kld.Statistics()));
        std::fflush(stdout);
        progress.Update(c + 1);
      }));
  progress.Finish();
  fmt::print("\n{}\n{}", FormatKldSummary(kld), FormatKldFinalEstimate(kld));
  const double seconds = SecondsSince(t1);
  fmt::print(stderr, "kl-divergence: {} chunks in {:.2f} s ({:.1f} tokens/s)\n", n_chunk, seconds,
             n_chunk * double(h.n_ctx) / seconds);
  return Status::Ok();
}

Status RunPerplexityCommand(const PerplexityFlags& flags) {
  if (flags.base_path.empty() && flags.text_path.empty()) {
    return Status::Error("perplexity needs a text file: -f TEXT");
  }
  // The text is read and checked first, so bad text fails before a large model is loaded.
  std::string text;
  if (!flags.text_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(text, ReadUtf8TextFile(flags.text_path));
    if (StripOneTrailingNewline(text).empty()) {
      return Status::Errorf("{}: the text is empty; perplexity needs at least 2 × --ctx tokens",
                            flags.text_path);
    }
  }
  SetMatMulThreads(flags.threads);
  // A quality measurement: exact F32 products by default, so scores do not move with the runtime's
  // 8-bit activations (docs/numerics.md "Perplexity"); --integer-products measures what
  // generate/bench compute.
  if (!flags.integer_products) SetBlasMinRows(kPromptMinRows);
  LoadOptions options;
  options.tokenizer_path = flags.tokenizer_path;
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(flags.model_path, options));
  EvalSetup setup;
  setup.n_vocab = model->config.vocab_size;
  setup.add_bos = model->tokenizer->adds_bos();
  setup.bos = model->tokenizer->bos();
  setup.threads = flags.threads;
  if (setup.add_bos && setup.bos < 0) {
    return Status::Errorf("{}: the vocabulary adds BOS but defines no BOS token", flags.model_path);
  }
  return flags.base_path.empty() ? RunPerplexityMode(flags, text, *model, setup)
                                 : RunKlDivergenceMode(flags, text, *model, setup);
}

}  // namespace

void AddPerplexityCommand(CLI::App& app) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity",
      "Perplexity of a model on a text (llama-perplexity's protocol), or KL divergence against "
      "base log-probs saved by shrink or llama-perplexity");
  cmd->add_option("-m,--model", flags->model_path, "model file (GGUF or llama2.c .bin)")
      ->required();
  cmd->add_option("-f,--file", flags->text_path,
                  "UTF-8 text to score (optional with --kl-divergence: then checked against the "
                  "base's tokens)");
  CLI::Option* ctx = cmd->add_option("--ctx", flags->n_ctx, "tokens per chunk")
                         ->capture_default_str()
                         ->check(IntegerIn(4, 1 << 20));
  cmd->add_option("--chunks", flags->max_chunks, "score only the first N chunks (default: all)")
      ->check(IntegerIn(1, INT32_MAX));
  CLI::Option* save = cmd->add_option(
      "--save-logits", flags->save_path,
      "write the log-probs to BASE in llama-perplexity's --kl-divergence-base format");
  cmd->add_option("--kl-divergence", flags->base_path,
                  "compare against base log-probs in BASE (written by --save-logits or by "
                  "llama-perplexity --kl-divergence-base)")
      ->excludes(save);
  cmd->add_option("--tokenizer", flags->tokenizer_path,
                  "tokenizer file for llama2.c checkpoints (tok512.bin)");
  cmd->add_option("--threads", flags->threads, "threads for the model and the scoring")
      ->capture_default_str()
      ->check(IntegerIn(1, 1024));
  cmd->add_option("--kv-type", flags->kv_type, kKvTypeHelp)
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16"}));
  cmd->add_flag("--allow-long-context", flags->allow_long_context,
                "allow a context past the model's trained context");
  cmd->add_flag("--integer-products", flags->integer_products,
                "score with the runtime's integer kernels (8-bit activations) instead of exact F32 "
                "products");
  cmd->callback([flags, ctx] {
    flags->ctx_given = ctx->count() > 0;
    FinishCommand(RunPerplexityCommand(*flags));
  });
}

}  // namespace shrink::cli
