// shrink: compress generative models for edge devices. Subcommands are registered from command.h.
#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "cli/flags.h"
#include "kernels/blas_setup.h"

int main(int argc, char** argv) {
  shrink::ReexecForFasterBlas(argv);  // before any work: may restart the process once
  CLI::App app{"shrink: quantize, prune and distill generative models for edge devices"};
  app.set_version_flag("--version", std::string("shrink ") + SHRINK_VERSION);
  app.require_subcommand(1);
  shrink::cli::AddInspectCommand(app);
  shrink::cli::AddGenerateCommand(app);
  shrink::cli::AddPerplexityCommand(app);
  shrink::cli::AddTokenizeCommand(app);
  shrink::cli::AddQuantizeCommand(app);
  shrink::cli::AddImatrixCommand(app);
  return shrink::cli::RunCli(app, argc, argv);  // flag errors: one line, exit status 1
}
