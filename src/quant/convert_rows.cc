#include "quant/convert_rows.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "base/check.h"
#include "formats/exact_scale.h"

namespace shrink {
namespace {

// Rows [begin, end): decode each into `row`, check it when the target quantizes, encode it
// (weighted by `importance` when given).
Status ConvertRange(const TypeTraits& from, const uint8_t* in, int64_t in_row_bytes,
                    const TypeTraits& to, uint8_t* out, int64_t out_row_bytes, int64_t row_length,
                    int64_t begin, int64_t end, int64_t first_row, const float* importance,
                    bool exact_scale) {
  std::unique_ptr<float[]> row = std::make_unique_for_overwrite<float[]>(row_length);
  const bool needs_finite = to.block_elements > 1;
  for (int64_t r = begin; r < end; ++r) {
    from.decode(in + r * in_row_bytes, row.get(), row_length);
    if (needs_finite) {
      for (int64_t c = 0; c < row_length; ++c) {
        if (!std::isfinite(row[c])) {
          return Status::Errorf(
              "row {}, column {}: the decoded value is {}; {} needs finite weights", first_row + r,
              c, row[c], to.name);
        }
      }
    }
    if (exact_scale) {
      EncodeRowExactScale(to, row.get(), out + r * out_row_bytes, row_length, importance);
    } else if (importance != nullptr) {
      to.encode_weighted(row.get(), out + r * out_row_bytes, row_length, importance);
    } else {
      to.encode(row.get(), out + r * out_row_bytes, row_length);
    }
  }
  return Status::Ok();
}

}  // namespace

Status ConvertRows(const TypeTraits& from, std::span<const uint8_t> in, const TypeTraits& to,
                   std::span<uint8_t> out, int64_t row_length, int threads, int64_t first_row,
                   std::span<const float> importance, RowEncoding encoding) {
  SHRINK_CHECK(to.encode != nullptr && threads >= 1 && row_length > 0);
  SHRINK_CHECK(importance.empty() || (to.encode_weighted != nullptr &&
                                      static_cast<int64_t>(importance.size()) == row_length));
  const float* weights = importance.empty() ? nullptr : importance.data();
  const bool exact_scale = encoding == RowEncoding::kExactScale && HasExactScaleEncoder(to);
  const Result<int64_t> in_row = RowBytes(from.type, row_length);
  const Result<int64_t> out_row = RowBytes(to.type, row_length);
  SHRINK_CHECK(in_row.ok() && out_row.ok());
  const int64_t rows = static_cast<int64_t>(in.size()) / *in_row;
  SHRINK_CHECK(rows * *in_row == static_cast<int64_t>(in.size()));
  SHRINK_CHECK(rows * *out_row == static_cast<int64_t>(out.size()));

  const int64_t n_threads = std::clamp<int64_t>(threads, 1, rows);
  if (n_threads <= 1) {
    return ConvertRange(from, in.data(), *in_row, to, out.data(), *out_row, row_length, 0, rows,
                        first_row, weights, exact_scale);
  }
  std::vector<Status> status(n_threads, Status::Ok());
  std::vector<std::thread> workers;
  workers.reserve(n_threads);
  for (int64_t t = 0; t < n_threads; ++t) {
    const int64_t begin = rows * t / n_threads, end = rows * (t + 1) / n_threads;
    workers.emplace_back([&, t, begin, end] {
      status[t] = ConvertRange(from, in.data(), *in_row, to, out.data(), *out_row, row_length,
                               begin, end, first_row, weights, exact_scale);
    });
  }
  for (std::thread& w : workers) w.join();
  for (const Status& s : status) {
    if (!s.ok()) return s;  // the first failing range: the lowest row number
  }
  return Status::Ok();
}

}  // namespace shrink
