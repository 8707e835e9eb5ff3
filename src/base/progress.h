// Progress reporting for long jobs: a single self-overwriting line on stderr with done/total, rate and ETA.
// Thread-compatible (one reporter per job, updated from one thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace shrink {

// Wall-clock seconds since `start` (steady clock): the time figures commands print.
double SecondsSince(std::chrono::steady_clock::time_point start);
// A duration for a progress line: "42s", "3m07s", "2h05m" (rounded to the second).
std::string FormatDuration(double seconds);

class ProgressReporter {
 public:
  // `label` prefixes the line ("perplexity"); `unit` names what is counted ("chunks").
  ProgressReporter(std::string label, std::string unit, int64_t total);
  // Records that `done` of `total` units are finished; redraws at most ~10 times per second.
  void Update(int64_t done);
  // Draws the final state and ends the line.
  void Finish();

 private:
  void Draw(int64_t done, bool final_line);
  std::string label_, unit_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool enabled_;
};

}  // namespace shrink
