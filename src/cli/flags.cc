#include "cli/flags.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <new>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace shrink::cli {
namespace {

// The value as typed, quoted on one line: control characters escaped, long values cut.
std::string Quote(std::string_view s) {
  constexpr size_t kMaxChars = 40;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxChars; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += s.size() > kMaxChars ? "...\"" : "\"";
  return out;
}

// Parses all of `s` as T with std::from_chars; false on any leftover character or overflow.
template <typename T>
bool ParseAll(std::string_view s, T& value) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);  // from_chars takes no '+'
  if (s.empty() || s.front() == '+' || (s.front() == '-' && std::is_unsigned_v<T>)) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The subcommand being parsed when `e` was thrown, else the app itself.
const CLI::App& ActiveCommand(const CLI::App& app) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  return parsed.empty() ? app : *parsed.back();
}

// "shrink perplexity" for a subcommand, "shrink" for the app.
std::string CommandName(const CLI::App& app, const CLI::App& cmd) {
  return &cmd == &app ? "shrink" : "shrink " + cmd.get_name();
}

// The option of `cmd` whose name starts `message` (CLI11 puts the name first), or nullptr.
const CLI::Option* OptionNamedFirst(const CLI::App& cmd, std::string_view message) {
  for (const CLI::Option* opt : cmd.get_options()) {
    const std::string name = opt->get_name();
    if (!name.empty() && StartsWith(message, name) &&
        (message.size() == name.size() || message[name.size()] == ':' ||
         message[name.size()] == ' ')) {
      return opt;
    }
  }
  return nullptr;
}

}  // namespace

CLI::Validator IntegerIn(int64_t lo, uint64_t hi) {
  const std::string expected = fmt::format("expected an integer from {} to {}", lo, hi);
  return CLI::Validator(
      [lo, hi, expected](std::string& text) -> std::string {
        bool in_range = false;
        if (lo >= 0) {
          uint64_t v = 0;
          in_range = ParseAll(text, v) && v >= uint64_t(lo) && v <= hi;
        } else {
          int64_t v = 0;
          in_range = ParseAll(text, v) && v >= lo && (v < 0 || uint64_t(v) <= hi);
        }
        return in_range ? std::string() : fmt::format("{}, got {}", expected, Quote(text));
      },
      fmt::format("{}..{}", lo, hi));
}

CLI::Validator FiniteIn(double lo, double hi, bool lo_open) {
  std::string range;
  if (std::isinf(hi)) {
    range = fmt::format("{} {}", lo_open ? ">" : ">=", lo);
  } else {
    range = fmt::format("in {}{}, {}]", lo_open ? "(" : "[", lo, hi);
  }
  const std::string expected = "expected a finite number " + range;
  return CLI::Validator(
      [lo, hi, lo_open, expected](std::string& text) -> std::string {
        double v = 0;
        // Finite as a float too: the flags are floats, and 1e300 would become infinity.
        const bool ok = ParseAll(text, v) && std::abs(v) <= std::numeric_limits<float>::max() &&
                        (lo_open ? v > lo : v >= lo) && v <= hi;
        return ok ? std::string() : fmt::format("{}, got {}", expected, Quote(text));
      },
      range);
}

std::string FlagErrorMessage(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App& cmd = ActiveCommand(app);
  const std::string what = e.what();
  const std::string help = fmt::format("{} --help", CommandName(app, cmd));
  std::string message;
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    // "The following argument(s) was/were not expected: ARG ..." lists them last first; name the
    // first unknown flag, else the first stray argument.
    const size_t colon = what.find(": ");
    std::vector<std::string> args;
    for (std::string_view rest =
             colon == std::string::npos ? "" : std::string_view(what).substr(colon + 2);
         !rest.empty();) {
      const size_t space = rest.find(' ');
      args.insert(args.begin(), std::string(rest.substr(0, space)));
      rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
    }
    std::string arg = args.empty() ? what : args.front();
    for (const std::string& a : args) {
      if (StartsWith(a, "-")) {
        arg = a;
        break;
      }
    }
    message = StartsWith(arg, "-") ? fmt::format("{}: unknown flag ({} lists the flags)", arg, help)
                                   : fmt::format("{}: unexpected argument ({} lists the arguments)",
                                                 Quote(arg), help);
  } else if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    if (const CLI::Option* opt = OptionNamedFirst(cmd, what)) {
      message = fmt::format("{}: required ({})", opt->get_name(), help);
    } else if (&cmd == &app) {
      std::vector<std::string> names;
      for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
      const std::vector<std::string> rest = app.remaining();
      if (rest.empty()) {
        message = fmt::format("expected a command: {} ({})", fmt::join(names, ", "), help);
      } else if (StartsWith(rest[0], "-")) {
        message = fmt::format("{}: unknown flag ({} lists the commands and flags)", rest[0], help);
      } else {
        message = fmt::format("{}: unknown command, expected one of {} ({})", Quote(rest[0]),
                              fmt::join(names, ", "), help);
      }
    } else {
      message = what;
    }
  } else if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    const CLI::Option* opt = OptionNamedFirst(cmd, what);
    message = opt != nullptr ? fmt::format("{}: expected a value after it", opt->get_name()) : what;
  } else if (dynamic_cast<const CLI::ExcludesError*>(&e) != nullptr) {
    // "A excludes B"
    const size_t at = what.find(" excludes ");
    message = at == std::string::npos ? what
                                      : fmt::format("{}: cannot be used with {}",
                                                    what.substr(0, at), what.substr(at + 10));
  } else if (OptionNamedFirst(cmd, what) != nullptr) {
    // Validation ("--ctx: expected ..."), flag conversions ("--chat: Should be true/false ...").
    message = what;
  } else {
    // Conversions CLI11 words as "Could not convert: --x = v" (flags without a validator, such as
    // --chat=maybe): name the flag first all the same.
    message = what;
    for (const CLI::Option* o : cmd.get_options()) {
      const std::string name = o->get_name();
      const size_t at = what.find(name + " = ");
      if (!name.empty() && at != std::string::npos) {
        message = fmt::format("{}: cannot read the value {}", name,
                              Quote(std::string_view(what).substr(at + name.size() + 3)));
        break;
      }
    }
  }
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return message;
}

int RunCli(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: printed to stdout, status 0
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command failed; FinishCommand printed its line
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "shrink: error: {}\n", FlagErrorMessage(app, e));
    return 1;
  } catch (const std::bad_alloc&) {
    // A backstop: commands estimate their large allocations against physical memory first
    // (cli/resources.h), so this means the estimate missed one or memory was short anyway.
    fmt::print(stderr, "shrink: error: out of memory (an allocation failed)\n");
    return 1;
  }
  return 0;
}

}  // namespace shrink::cli
