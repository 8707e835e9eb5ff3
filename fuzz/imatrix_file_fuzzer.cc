// Fuzzes the importance-matrix reader (ReadImatrixFile: `shrink quantize --imatrix`'s input, GGUF
// or legacy .dat) and its round trips through the writers.
//
// Every input must give either a one-line error naming the file or statistics whose invariants
// hold: each tensor has columns > 0, sums of n_mat × columns finite values >= 0 and n_mat counts
// >= 0, and its means (MeanSquares, what quantize uses) are finite and >= 0. What opens is then
// written in its own format and read back: the same datasets, chunk figures, names, sums and
// counts. A GGUF read with a chunk size is also written as a legacy .dat (llama-imatrix's
// conversion) and read back: the same names and means within 2 F32 roundings.
#include <cmath>
#include <cstdint>
#include <string>

#include "fuzz_file.h"
#include "io/imatrix_file.h"

namespace shrink {
namespace {

void CheckInvariants(const ImatrixData& d) {
  SHRINK_CHECK(!d.tensors.empty() && d.chunk_count >= 0 && d.chunk_size >= 0);
  for (const auto& [name, t] : d.tensors) {
    SHRINK_CHECK(!name.empty() && t.columns > 0 && t.matrices() > 0);
    SHRINK_CHECK(t.sums.size() == static_cast<size_t>(t.columns * t.matrices()));
    if (d.format == ImatrixFormat::kDat) SHRINK_CHECK(t.matrices() == 1);
    for (const float s : t.sums) SHRINK_CHECK(std::isfinite(s) && s >= 0);
    for (const int64_t c : t.counts) SHRINK_CHECK(c >= 0);
    for (const float m : MeanSquares(d.format, t)) SHRINK_CHECK(std::isfinite(m) && m >= 0);
  }
}

void CheckSame(const ImatrixData& a, const ImatrixData& b) {
  SHRINK_CHECK(a.format == b.format && a.datasets == b.datasets);
  SHRINK_CHECK(a.chunk_count == b.chunk_count && a.chunk_size == b.chunk_size);
  SHRINK_CHECK(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    const auto it = b.tensors.find(name);
    SHRINK_CHECK(it != b.tensors.end());
    SHRINK_CHECK(it->second.columns == t.columns && it->second.counts == t.counts);
    SHRINK_CHECK(it->second.sums == t.sums);
  }
}

// Written in `format` to the scratch folder and read back; nullopt when the writer refuses (an
// error that must name the path, as the reader's do).
std::optional<ImatrixData> RoundTrip(const ImatrixData& d, ImatrixFormat format) {
  const std::string path =
      (fuzz::ScratchDir() / (format == ImatrixFormat::kGguf ? "rt.gguf" : "rt.dat")).string();
  const Status written = WriteImatrixFile(path, d, format);
  if (!written.ok()) {
    fuzz::CheckError(written, path, "write: ");
    return std::nullopt;
  }
  Result<ImatrixData> back = ReadImatrixFile(path);
  if (!back.ok()) {
    std::fprintf(stderr, "a written imatrix does not read back: %s\n",
                 back.status().message().c_str());
    SHRINK_CHECK(false);
  }
  CheckInvariants(*back);
  return std::move(back).value();
}

}  // namespace
}  // namespace shrink

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  fuzz::InputFile input(data, size);
  Result<ImatrixData> read = ReadImatrixFile(input.path());
  if (!read.ok()) {
    fuzz::CheckError(read.status(), input.path());
    return 0;
  }
  const ImatrixData& d = *read;
  CheckInvariants(d);
  if (const std::optional<ImatrixData> same = RoundTrip(d, d.format)) CheckSame(d, *same);
  if (d.format == ImatrixFormat::kGguf && d.chunk_size > 0) {
    if (const std::optional<ImatrixData> dat = RoundTrip(d, ImatrixFormat::kDat)) {
      // Tensors that saw no rows are left out of a .dat, as llama-imatrix does.
      for (const auto& [name, t] : dat->tensors) {
        const auto it = d.tensors.find(name);
        SHRINK_CHECK(it != d.tensors.end());
        const std::vector<float> a = MeanSquares(d.format, it->second);
        const std::vector<float> b = MeanSquares(dat->format, t);
        SHRINK_CHECK(a.size() == b.size());
        for (size_t j = 0; j < a.size(); ++j) {
          // (sum / count) · ncall / ncall: two F32 roundings, or subnormal steps near 0.
          SHRINK_CHECK(std::abs(a[j] - b[j]) <= 0x1p-22f * std::max(a[j], b[j]) + 0x1p-126f);
        }
      }
      fuzz::CountOutcome("opened GGUF, both round trips");
      return 0;
    }
  }
  fuzz::CountOutcome(d.format == ImatrixFormat::kGguf ? "opened GGUF, round trip"
                                                      : "opened .dat, round trip");
  return 0;
}
