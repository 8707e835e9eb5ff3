#include "quant/sensitivity.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "base/check.h"
#include "model/tensor_table.h"

namespace shrink {
namespace {

// Types never offered: F32 and BF16 (F16 is the budget's near-lossless top at half of F32's
// bytes), Q8_K (an activation type: ggml has no matmul with Q8_K weights).
bool Offered(const TypeTraits& t) {
  return t.encode != nullptr && t.type != TensorType::kF32 && t.type != TensorType::kBF16 &&
         t.type != TensorType::kQ8_K;
}

uint64_t TensorBytes(TensorType type, const TensorView& t) {
  const Result<int64_t> row = RowBytes(type, t.cols());
  SHRINK_CHECK(row.ok());  // candidates divide the row
  return static_cast<uint64_t>(*row) * static_cast<uint64_t>(t.element_count() / t.cols());
}

}  // namespace

std::vector<TensorType> CandidateTypes(int64_t row_length, std::span<const TensorType> allowed) {
  std::vector<TensorType> out;
  for (const TypeTraits& t : AllTypes()) {
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), t.type) == allowed.end())
      continue;
    if (Offered(t) && row_length > 0 && row_length % t.block_elements == 0) out.push_back(t.type);
  }
  std::stable_sort(out.begin(), out.end(), [](TensorType a, TensorType b) {
    return Traits(a).bits_per_weight() < Traits(b).bits_per_weight();
  });
  return out;
}

Result<TensorSensitivity> MeasureSensitivity(const TensorView& tensor,
                                             std::span<const float> importance,
                                             double uniform_weight, int64_t max_rows,
                                             bool weighted_encoding,
                                             std::span<const TensorType> allowed) {
  SHRINK_CHECK(tensor.shape.size() >= 2 && tensor.present() && uniform_weight > 0);
  const int64_t cols = tensor.cols();
  const int64_t rows = tensor.element_count() / cols;  // all stacked matrices' rows
  const int64_t rows_per_matrix = tensor.shape[1];
  SHRINK_CHECK(importance.empty() ||
               static_cast<int64_t>(importance.size()) == rows / rows_per_matrix * cols);
  SHRINK_ASSIGN_OR_RETURN(const int64_t src_row_bytes, RowBytes(tensor.type, cols));
  const TypeTraits& src = Traits(tensor.type);

  TensorSensitivity out;
  out.tensor = &tensor;
  out.weighted = !importance.empty();
  const std::vector<TensorType> types = CandidateTypes(cols, allowed);
  if (types.empty()) {
    return Status::Errorf("{}: none of the allowed types fits its rows of {}", tensor.name, cols);
  }
  for (TensorType type : types) out.candidates.push_back({type, TensorBytes(type, tensor), 0.0});

  // A fixed stride over all rows: the same rows whatever the thread count.
  const int64_t stride =
      std::max<int64_t>(1, (rows + max_rows - 1) / std::max<int64_t>(1, max_rows));
  std::vector<float> w(cols), decoded(cols), uniform(cols, static_cast<float>(uniform_weight));
  std::vector<uint8_t> blocks;
  int64_t sampled = 0;
  for (int64_t r = 0; r < rows; r += stride) {
    src.decode(tensor.data.data() + r * src_row_bytes, w.data(), cols);
    for (int64_t j = 0; j < cols; ++j) {
      if (!std::isfinite(w[j])) {
        return Status::Errorf(
            "{}: row {}, column {}: the decoded value is {}; a budget needs "
            "finite weights",
            tensor.name, r, j, w[j]);
      }
    }
    const float* imp =
        importance.empty() ? uniform.data() : importance.data() + (r / rows_per_matrix) * cols;
    for (CandidateLoss& c : out.candidates) {
      const TypeTraits& t = Traits(c.type);
      blocks.resize(static_cast<size_t>(cols / t.block_elements * t.block_bytes));
      if (weighted_encoding && !importance.empty() && t.encode_weighted != nullptr) {
        t.encode_weighted(w.data(), blocks.data(), cols, imp);
      } else {
        t.encode(w.data(), blocks.data(), cols);
      }
      t.decode(blocks.data(), decoded.data(), cols);
      double sum = 0.0;
      for (int64_t j = 0; j < cols; ++j) {
        const double d = static_cast<double>(w[j]) - decoded[j];
        sum += imp[j] * d * d;
      }
      c.loss += sum;
    }
    ++sampled;
  }
  const double scale = static_cast<double>(rows) / static_cast<double>(sampled);
  for (CandidateLoss& c : out.candidates) c.loss *= scale;
  return out;
}

Result<std::vector<TensorSensitivity>> MeasureAll(std::span<const SensitivityInput> inputs,
                                                  const SensitivityOptions& options) {
  std::vector<Result<TensorSensitivity>> results(inputs.size(), Status::Error("not measured"));
  std::atomic<size_t> next{0};
  std::mutex done_mutex;
  size_t done = 0;
  auto work = [&] {
    for (size_t i = next++; i < inputs.size(); i = next++) {
      const SensitivityInput& in = inputs[i];
      results[i] = MeasureSensitivity(*in.tensor, in.importance, in.uniform_weight,
                                      options.max_rows, in.weighted_encoding, options.allowed);
      if (results[i].ok() && in.role_scale != 1.0) {
        for (CandidateLoss& c : results[i]->candidates) c.loss *= in.role_scale;
      }
      std::lock_guard<std::mutex> lock(done_mutex);
      ++done;
      if (options.on_tensor_done) options.on_tensor_done(done, inputs.size());
    }
  };
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(inputs.size())));
  {
    std::vector<std::jthread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(work);
    work();
  }
  std::vector<TensorSensitivity> out;
  out.reserve(inputs.size());
  for (Result<TensorSensitivity>& r : results) {
    if (!r.ok()) return r.status();
    out.push_back(std::move(r).value());
  }
  return out;
}

std::string SensitivityTsv(std::span<const TensorSensitivity> tensors) {
  std::string out = "tensor\trole\tlayer\tcols\trows\ttype\tbytes\tloss\tweighted\n";
  for (const TensorSensitivity& t : tensors) {
    for (const CandidateLoss& c : t.candidates) {
      out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.9g}\t{}\n", t.tensor->name,
                         SpecOf(t.tensor->role).name, t.tensor->layer, t.tensor->cols(),
                         t.tensor->element_count() / t.tensor->cols(), Traits(c.type).name, c.bytes,
                         c.loss, t.weighted ? 1 : 0);
    }
  }
  return out;
}

}  // namespace shrink
