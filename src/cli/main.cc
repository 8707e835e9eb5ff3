// shrink: compress generative models for edge devices. Subcommands are registered from command.h.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/command.h"
#include "cli/flags.h"
#include "kernels/blas_setup.h"
#include "kernels/cpu_target.h"

int main(int argc, char** argv) {
  // Before any work: may restart the process once, for the commands that use OpenBLAS at all.
  if (shrink::SubcommandUsesBlas(argc, argv)) shrink::ReexecForFasterBlas(argv);
  if (const shrink::Status cpu = shrink::ApplyCpuTargetFromEnvironment(); !cpu.ok()) {
    fmt::print(stderr, "shrink: error: {}\n", cpu.message());
    return 1;
  }
  CLI::App app{"shrink: quantize, prune and distill generative models for edge devices"};
  app.set_version_flag("--version", std::string("shrink ") + SHRINK_VERSION);
  app.require_subcommand(1);
  shrink::cli::AddInspectCommand(app);
  shrink::cli::AddGenerateCommand(app);
  shrink::cli::AddPerplexityCommand(app);
  shrink::cli::AddTokenizeCommand(app);
  shrink::cli::AddQuantizeCommand(app);
  shrink::cli::AddImatrixCommand(app);
  shrink::cli::AddBenchCommand(app);
  shrink::cli::AddPruneCommand(app);
  shrink::cli::AddTrainCommand(app);
  shrink::cli::AddDistillCommand(app);
  return shrink::cli::RunCli(app, argc, argv);  // flag errors: one line, exit status 1
}
