// Re-encoding rows from one element type to another through F32, on several threads.
//
// Each row is decoded with the formats table's decode of `from` into a per-thread F32 row and
// encoded with the table's encode of `to`, or, given per-column importance (an imatrix's mean of
// x², quant/importance.h), with its importance-weighted encode_weighted: memory is one row of floats per thread, and the result
// does not depend on the thread count (rows are independent and each is coded by one thread).
#pragma once

#include <cstdint>
#include <span>

#include "base/status.h"
#include "formats/types.h"

namespace shrink {

// How blocks are chosen: kReference is the formats table's encode / encode_weighted (ggml's
// choice, byte-identical with llama-quantize); kExactScale gives the one-scale types (Q4_0, Q5_0,
// IQ4_NL) the exactly optimal step of formats/exact_scale.h and leaves the other types on
// kReference.
enum class RowEncoding { kReference, kExactScale };

// Converts the rows in `in` (each RowBytes(from, row_length) bytes) into `out` (each
// RowBytes(to, row_length) bytes), splitting rows among up to `threads` threads. With a non-empty
// `importance` (row_length weights, one per column, the same for every row) each row is encoded by
// to.encode_weighted(row, out, row_length, importance).
// REQUIRES: row_length is a multiple of both block sizes; in and out hold the same number of rows;
// to.encode != nullptr; threads >= 1; importance is empty or has row_length finite values >= 0
// and then to.encode_weighted != nullptr.
// Error: a decoded value that is NaN or infinite when `to` is a block-quantized type (its encoder
// needs finite values): "row 3, column 17: the decoded value is nan; ...". `first_row` numbers the
// rows in messages.
Status ConvertRows(const TypeTraits& from, std::span<const uint8_t> in, const TypeTraits& to,
                   std::span<uint8_t> out, int64_t row_length, int threads, int64_t first_row = 0,
                   std::span<const float> importance = {},
                   RowEncoding encoding = RowEncoding::kReference);

}  // namespace shrink
