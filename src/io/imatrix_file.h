// Importance-matrix files as llama.cpp's llama-imatrix writes them and llama-quantize reads them,
// in both of its formats (prose in docs/formats.md, "Importance matrix files"):
//
//   GGUF (its default since 2025): a GGUF v3 file with general.type = "imatrix",
//     imatrix.datasets (array of strings), imatrix.chunk_count and imatrix.chunk_size (u32), and
//     per collected weight tensor NAME two F32 tensors, sorted by NAME:
//       NAME.in_sum2  shape [C_in] (or [C_in, n_mat])  Σ_t x[t][j]² over every input row x_t
//       NAME.counts   shape [1]    (or [1, n_mat])     rows seen (per matrix)
//   legacy .dat: little-endian, no magic:
//     i32 n_entries, n_entries × { i32 len, len name bytes, i32 ncall, i32 nval,
//                                  nval × f32 value = mean(x²) · ncall }
//     then optionally i32 chunk_count, then optionally i32 len + len bytes of a dataset name.
//
// In memory one ImatrixTensor per NAME holds `sums` and `counts` as the file stores them, so a
// file read and written back in its own format has the same bytes. The two formats scale the sums
// differently, but in both the mean of x² is sums / count (MeanSquares), and that is all
// llama-quantize uses.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shrink {

enum class ImatrixFormat {
  kGguf,  // sums are Σx², counts are rows
  kDat,   // legacy: sums are mean(x²)·ncall, counts are {ncall}
};
std::string_view ImatrixFormatName(ImatrixFormat format);  // "GGUF", "legacy .dat"

// The statistics of one weight tensor W: (n_mat, C_out, C_in) (n_mat = 1 for a dense matrix).
struct ImatrixTensor {
  int64_t columns = 0;          // C_in: the width of W's rows
  std::vector<float> sums;      // (n_mat, C_in), each finite and >= 0
  std::vector<int64_t> counts;  // (n_mat), each >= 0
  int64_t matrices() const { return static_cast<int64_t>(counts.size()); }
};

struct ImatrixData {
  ImatrixFormat format = ImatrixFormat::kGguf;  // the meaning of sums and counts
  std::vector<std::string> datasets;            // calibration text paths, as given to the tool
  int64_t chunk_count = 0;                      // chunks of calibration text seen
  int64_t chunk_size = 0;                       // tokens per chunk; 0 when unknown (.dat files)
  std::map<std::string, ImatrixTensor, std::less<>> tensors;  // by weight tensor name
};

// Reads a GGUF imatrix (the file starts with "GGUF") or a legacy .dat file (anything else), as
// llama.cpp's loader does, and validates it: the GGUF container (io/gguf.h), general.type =
// "imatrix", the three imatrix.* keys and their types, every tensor named NAME.in_sum2 or
// NAME.counts with its partner present, both F32, counts of n_mat elements and sums of
// C_in × n_mat with shape[0] = C_in; in a .dat file every length and count against the bytes left,
// names of at least one byte, ncall >= 0, nval >= 1, no duplicate names and nothing after the
// optional trailer. Every sum must be finite and >= 0 and every count a finite, non-negative whole
// number (GGUF counts are F32: rounded to the nearest integer, as llama.cpp does). At least one
// tensor. Errors are one line naming the file, the field or tensor and, for .dat files, the offset:
// "x.dat: entry 2 ('blk.0.attn_v.weight') at offset 140: nval is 0, expected >= 1".
Result<ImatrixData> ReadImatrixFile(const std::string& path);

// Writes `data` as a GGUF imatrix: the bytes llama-imatrix writes for the same statistics
// (metadata in the order above, tensors sorted by name, counts as F32). A kDat `data` is written
// with its sums and counts as they are (the means are kept; the sums are not Σx² then).
// Atomic (io/atomic_file.h). Errors: I/O, a tensor name too long for ggml (NAME.in_sum2 must be
// under 64 bytes), chunk_count or chunk_size outside u32.
Status WriteImatrixGguf(const std::string& path, const ImatrixData& data);

// Writes `data` in the legacy .dat format, as llama-imatrix --output-format dat: per tensor
// ncall = ceil(max count / chunk_size) and value = (sum / count) · ncall in F32 (a matrix with
// count 0 stores 1 · ncall), tensors whose counts are all 0 are left out, and the trailer holds
// chunk_count and the last dataset. A kDat `data` is written back exactly as read.
// Atomic. Errors: I/O; a kGguf `data` with chunk_size <= 0 (ncall needs it) or without a tensor
// that saw rows (the file would have no entries, which no reader accepts); a value that does
// not fit the format's i32 fields, or a stored value that overflows F32.
Status WriteImatrixDat(const std::string& path, const ImatrixData& data);

Status WriteImatrixFile(const std::string& path, const ImatrixData& data, ImatrixFormat format);

// The mean of x² over the rows seen, per (matrix, column): llama-quantize's importance weights.
// (n_mat, C_in). kGguf: sums / count, and 1 for every column of a matrix with count 0 (no data);
// kDat: sums / ncall, or the stored values when ncall is 0.
std::vector<float> MeanSquares(ImatrixFormat format, const ImatrixTensor& tensor);

}  // namespace shrink
