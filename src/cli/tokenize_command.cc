// `shrink tokenize -m MODEL (-f FILE | -p TEXT) [--ids] [--no-bos] [--no-parse-special]
// [--show-count] [--timings]`
//
// Tokenizes a text with a GGUF model's tokenizer and prints the ids as llama.cpp's llama-tokenize
// does, so the two outputs can be compared byte for byte:
//   --ids: one line "[1, 2, 3]";
//   else:  one line per token, "%6d -> '<piece>'" (special tokens rendered as their text).
// As llama-tokenize: the file is read verbatim (no trailing newline dropped); BOS is added when
// the vocabulary asks for it unless --no-bos (and EOS only then); control tokens in the text are
// parsed as their ids unless --no-parse-special. Unlike llama-tokenize, escapes ("\n") in the text
// are never processed: compare with llama-tokenize --no-escape.
//
// Only the tokenizer metadata is read: the file is mapped and no weight is decoded.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/progress.h"
#include "cli/command.h"
#include "io/gguf.h"
#include "io/mapped_file.h"
#include "text/tokenizer.h"

namespace shrink::cli {
namespace {

struct TokenizeFlags {
  std::string model_path;
  std::string text_path;
  std::string prompt;
  bool ids = false;
  bool no_bos = false;
  bool no_parse_special = false;
  bool show_count = false;
  bool timings = false;
};

void PrintIds(const std::vector<TokenId>& ids) {
  std::string line = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ", ";
    line += fmt::format("{}", ids[i]);
  }
  line += "]\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
}

void PrintPieces(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  for (TokenId id : ids) fmt::print("{:6} -> '{}'\n", id, tok.TokenToPiece(id, true));
}

Status RunTokenize(const TokenizeFlags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  SHRINK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(f.model_path));
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadGgufTokenizer(file));
  const Tokenizer& tok = *tokenizer;
  const double load_s = SecondsSince(t0);

  // The text stays in its mapping; a prompt given with -p is used as is.
  std::string_view text = f.prompt;
  std::optional<MappedFile> mapped;
  if (!f.text_path.empty()) {
    SHRINK_ASSIGN_OR_RETURN(MappedFile m, MappedFile::Open(f.text_path));
    mapped.emplace(std::move(m));
    text = std::string_view(reinterpret_cast<const char*>(mapped->bytes().data()),
                            mapped->bytes().size());
  }

  const auto t1 = std::chrono::steady_clock::now();
  // llama-tokenize passes add_special = "the vocabulary adds BOS and --no-bos is absent".
  const bool add_special = tok.adds_bos() && !f.no_bos;
  const std::vector<TokenId> ids = tok.Encode(text, add_special, !f.no_parse_special);
  const double tokenize_s = SecondsSince(t1);

  if (f.ids) {
    PrintIds(ids);
  } else {
    PrintPieces(tok, ids);
  }
  if (f.show_count) fmt::print("Total number of tokens: {}\n", ids.size());
  std::fflush(stdout);
  if (f.timings) {
    fmt::print(stderr, "tokenizer loaded in {:.3f} s; {} bytes -> {} tokens in {:.3f} s\n", load_s,
               text.size(), ids.size(), tokenize_s);
  }
  return Status::Ok();
}

}  // namespace

void AddTokenizeCommand(CLI::App& app) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Tokenize a text with a GGUF model's tokenizer (output as llama-tokenize's)");
  cmd->add_option("-m,--model", flags->model_path, "GGUF model file")->required();
  CLI::Option* file = cmd->add_option("-f,--file", flags->text_path, "text file, read verbatim");
  CLI::Option* prompt = cmd->add_option("-p,--prompt", flags->prompt, "text to tokenize");
  file->excludes(prompt);
  cmd->add_flag("--ids", flags->ids, "print only the ids, as [1, 2, 3]");
  cmd->add_flag("--no-bos", flags->no_bos, "do not add BOS (nor EOS) even if the model asks");
  cmd->add_flag("--no-parse-special", flags->no_parse_special,
                "tokenize control-token texts (e.g. <start_of_turn>) as plain text");
  cmd->add_flag("--show-count", flags->show_count, "print the number of tokens");
  cmd->add_flag("--timings", flags->timings, "print load and tokenize times to stderr");
  cmd->callback([flags, file, prompt] {
    if (file->count() == 0 && prompt->count() == 0) {
      FinishCommand(Status::Error("tokenize needs -f FILE or -p TEXT"));
    }
    FinishCommand(RunTokenize(*flags));
  });
}

}  // namespace shrink::cli
