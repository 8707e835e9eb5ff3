#include "cli/command.h"

#include <fmt/format.h>

namespace shrink::cli {

void FinishCommand(const Status& status) {
  if (status.ok()) return;
  fmt::print(stderr, "shrink: error: {}\n", status.message());
  throw CLI::RuntimeError(1);
}

}  // namespace shrink::cli
