#include "base/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace shrink {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

ProgressReporter::ProgressReporter(std::string label, std::string unit, int64_t total)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      enabled_(true) {}

void ProgressReporter::Update(int64_t done) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  Draw(done, false);
}

void ProgressReporter::Finish() { Draw(total_, true); }

void ProgressReporter::Draw(int64_t done, bool final_line) {
  if (!enabled_) return;
  double elapsed = SecondsSince(start_);
  double rate = elapsed > 0 ? done / elapsed : 0.0;
  double eta = rate > 0 ? (total_ - done) / rate : 0.0;
  // On a terminal, redraw in place; in a log, print one line per update only at the end.
  bool tty = isatty(fileno(stderr));
  if (!tty && !final_line) return;
  fmt::print(stderr, "{}{}: {}/{} {} ({:.2f} {}/s, elapsed {:.1f} s, ETA {:.1f} s){}",
             tty ? "\r" : "", label_, done, total_, unit_, rate, unit_, elapsed, eta,
             final_line ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace shrink
