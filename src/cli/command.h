// Shared plumbing for subcommands. Each subcommand lives in its own <name>_command.cc and exposes one
// Add<Name>Command(CLI::App&) that registers its flags and a callback; main.cc calls them all.
#pragma once

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace shrink::cli {

// Ends the subcommand: on error prints "shrink: error: <message>" (one line) to stderr and exits with
// status 1 through CLI11 (so main's destructors run); on OK returns normally.
void FinishCommand(const Status& status);

void AddInspectCommand(CLI::App& app);
void AddGenerateCommand(CLI::App& app);
void AddPerplexityCommand(CLI::App& app);
void AddTokenizeCommand(CLI::App& app);
void AddQuantizeCommand(CLI::App& app);
void AddImatrixCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddPruneCommand(CLI::App& app);
void AddTrainCommand(CLI::App& app);
void AddDistillCommand(CLI::App& app);

}  // namespace shrink::cli
