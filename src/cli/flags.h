// Flags in the house style: every bad flag gives one stderr line "shrink: error: --flag: what was
// expected" and exit status 1, never CLI11's own two-line messages and exit codes 104-114.
//
// Options keep CLI11's typed add_option; the validators below run on the flag's text before
// CLI11 converts it, so out-of-range, unparseable, NaN and infinite values are reported with the
// flag's name and the accepted range:
//   cmd->add_option("--ctx", n_ctx, "...")->check(IntegerIn(4, 1 << 20));
//   -> shrink: error: --ctx: expected an integer from 4 to 1048576, got "abc"
// RunCli parses, runs the chosen subcommand and turns CLI11's other parse errors (unknown flags,
// missing values, required flags) into the same one-line form.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace shrink::cli {

// A decimal integer (optional sign, digits only) in [lo, hi]. hi may be up to 2^64 − 1 when lo >= 0
// (seeds).
CLI::Validator IntegerIn(int64_t lo, uint64_t hi);

// A decimal number that is finite as a float (NaN, ±infinity and magnitudes above FLT_MAX
// rejected) in [lo, hi], or (lo, hi] with lo_open. hi = +infinity means no upper bound.
CLI::Validator FiniteIn(double lo, double hi = std::numeric_limits<double>::infinity(),
                        bool lo_open = false);

// Parses argv with `app` (which runs the chosen subcommand's callback) and returns the process exit
// status: 0 on success and for --help / --version; 1 after printing one line "shrink: error: ..."
// for any flag error or when memory runs out (std::bad_alloc); the command's own status when it
// fails (FinishCommand has printed its line).
int RunCli(CLI::App& app, int argc, char** argv);

// The text after "shrink: error: " for a CLI11 parse error of `app` (one line, starting with the
// flag or argument concerned where there is one).
std::string FlagErrorMessage(const CLI::App& app, const CLI::ParseError& e);

}  // namespace shrink::cli
