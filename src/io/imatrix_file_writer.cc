// Writing importance-matrix files in llama-imatrix's two formats (layouts in io/imatrix_file.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>

#include "io/atomic_file.h"
#include "io/gguf_writer.h"
#include "io/imatrix_file.h"
#include "io/message_text.h"

namespace shrink {
namespace {

// ggml keeps tensor names in char[64] (GGML_MAX_NAME) with the terminator: llama.cpp's GGUF reader
// rejects longer ones.
constexpr size_t kMaxTensorName = 63;
constexpr int64_t kMaxI32 = std::numeric_limits<int32_t>::max();

Status CheckU32(std::string_view key, int64_t v) {
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    return Status::Errorf("{} is {}, which does not fit the file's u32", key, v);
  }
  return Status::Ok();
}

std::span<const uint8_t> Bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

// Little-endian i32 fields and raw bytes into one buffer (the file is written in one go).
class DatBuffer {
 public:
  void I32(int32_t v) { Raw(&v, 4); }  // host is little-endian, like the format
  void Raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// The values and ncall of one tensor as llama-imatrix's legacy writer computes them from Σx² and
// row counts: ncall = ceil(max count / chunk_size), value = (sum / count) · ncall in F32, with
// (1 / 1) for a matrix that saw no rows.
Status LegacyValues(const std::string& name, const ImatrixTensor& t, int64_t chunk_size,
                    int32_t* ncall, std::vector<float>* values) {
  const int64_t max_count = *std::max_element(t.counts.begin(), t.counts.end());
  const int64_t calls = (max_count + chunk_size - 1) / chunk_size;
  if (calls > kMaxI32) {
    return Status::Errorf("tensor '{}': {} rows in chunks of {} do not fit the i32 ncall",
                          ForMessage(name), max_count, chunk_size);
  }
  *ncall = static_cast<int32_t>(calls);
  values->resize(t.sums.size());
  const size_t columns = static_cast<size_t>(t.columns);
  for (size_t i = 0; i < t.sums.size(); ++i) {
    float count = static_cast<float>(t.counts[i / columns]);
    float value = t.sums[i];
    if (count == 0.0f) value = count = 1.0f;
    (*values)[i] = (value / count) * static_cast<float>(*ncall);
    if (!std::isfinite((*values)[i])) {
      return Status::Errorf("tensor '{}' value {}: ({} / {}) · {} overflows F32", ForMessage(name),
                            i, value, count, *ncall);
    }
  }
  return Status::Ok();
}

Status WriteDatBody(const ImatrixData& data, DatBuffer& out) {
  if (data.format == ImatrixFormat::kGguf && data.chunk_size <= 0) {
    return Status::Errorf("chunk size is {}; the legacy format's ncall needs a positive one",
                          data.chunk_size);
  }
  // llama-imatrix leaves out tensors that saw no rows at all.
  std::vector<const std::pair<const std::string, ImatrixTensor>*> stored;
  for (const auto& entry : data.tensors) {
    const std::vector<int64_t>& c = entry.second.counts;
    const bool no_data = std::all_of(c.begin(), c.end(), [](int64_t n) { return n == 0; });
    if (data.format == ImatrixFormat::kDat || !no_data) stored.push_back(&entry);
  }
  if (stored.empty()) {
    return Status::Error(
        "no tensor saw any rows: a legacy .dat needs at least one entry (llama.cpp reads none "
        "as an error)");
  }
  if (stored.size() > static_cast<size_t>(kMaxI32) || data.chunk_count > kMaxI32 ||
      data.chunk_count < 0) {
    return Status::Errorf("{} tensors or chunk count {} do not fit the legacy format's i32 fields",
                          stored.size(), data.chunk_count);
  }
  out.I32(static_cast<int32_t>(stored.size()));
  std::vector<float> values;
  for (const auto* entry : stored) {
    const std::string& name = entry->first;
    const ImatrixTensor& t = entry->second;
    if (name.size() > static_cast<size_t>(kMaxI32) ||
        t.sums.size() > static_cast<size_t>(kMaxI32)) {
      return Status::Errorf("tensor '{}' is too large for the legacy format's i32 fields",
                            ForMessage(name));
    }
    int32_t ncall = 0;
    if (data.format == ImatrixFormat::kDat) {
      ncall = static_cast<int32_t>(std::min<int64_t>(t.counts.at(0), kMaxI32));
      values = t.sums;
    } else {
      SHRINK_RETURN_IF_ERROR(LegacyValues(name, t, data.chunk_size, &ncall, &values));
    }
    out.I32(static_cast<int32_t>(name.size()));
    out.Raw(name.data(), name.size());
    out.I32(ncall);
    out.I32(static_cast<int32_t>(values.size()));
    out.Raw(values.data(), values.size() * sizeof(float));
  }
  out.I32(static_cast<int32_t>(data.chunk_count));
  // llama-imatrix names the last dataset (its own -f file) here.
  const std::string dataset = data.datasets.empty() ? "" : data.datasets.back();
  if (dataset.size() > static_cast<size_t>(kMaxI32)) {
    return Status::Error("the dataset name is too long for the legacy format");
  }
  out.I32(static_cast<int32_t>(dataset.size()));
  out.Raw(dataset.data(), dataset.size());
  return Status::Ok();
}

}  // namespace

Status WriteImatrixGguf(const std::string& path, const ImatrixData& data) {
  SHRINK_RETURN_IF_ERROR(CheckU32("chunk count", data.chunk_count).WithContext(path));
  SHRINK_RETURN_IF_ERROR(CheckU32("chunk size", data.chunk_size).WithContext(path));
  GgufArray datasets{GgufValueType::kString};
  for (const std::string& d : data.datasets) datasets.Push(GgufValue::String(d));
  const std::vector<std::pair<std::string, GgufValue>> metadata = {
      {"general.type", GgufValue::String("imatrix")},
      {"imatrix.datasets", GgufValue::Array(std::move(datasets))},
      {"imatrix.chunk_count", GgufValue::U32(static_cast<uint32_t>(data.chunk_count))},
      {"imatrix.chunk_size", GgufValue::U32(static_cast<uint32_t>(data.chunk_size))},
  };
  // Counts are stored as F32; they must outlive the write, so all are made first.
  std::vector<std::vector<float>> counts;
  counts.reserve(data.tensors.size());
  std::vector<GgufTensorToWrite> tensors;
  for (const auto& [name, t] : data.tensors) {
    const std::string sums_name = name + ".in_sum2";
    if (sums_name.size() > kMaxTensorName) {
      return Status::Errorf("{}: tensor name '{}' is {} bytes, ggml allows at most {}", path,
                            ForMessage(sums_name), sums_name.size(), kMaxTensorName);
    }
    counts.emplace_back(t.counts.begin(), t.counts.end());
    // llama-imatrix makes [C_in, n_mat] and [1, n_mat] tensors; GGUF stores the dimensions up to
    // the last one above 1 (ggml_n_dims), so a dense matrix's are [C_in] and [1].
    const int64_t n_mat = t.matrices();
    std::vector<int64_t> sums_shape = {t.columns}, counts_shape = {1};
    if (n_mat > 1) sums_shape.push_back(n_mat), counts_shape.push_back(n_mat);
    tensors.push_back(
        {sums_name, sums_shape, static_cast<uint32_t>(TensorType::kF32), Bytes(t.sums)});
    tensors.push_back({name + ".counts", counts_shape, static_cast<uint32_t>(TensorType::kF32),
                       Bytes(counts.back())});
  }
  return WriteGguf(path, metadata, tensors);
}

Status WriteImatrixDat(const std::string& path, const ImatrixData& data) {
  DatBuffer body;
  SHRINK_RETURN_IF_ERROR(WriteDatBody(data, body).WithContext(path));
  SHRINK_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::Create(path));
  SHRINK_RETURN_IF_ERROR(out.Write(body.bytes()));
  return out.Commit();
}

Status WriteImatrixFile(const std::string& path, const ImatrixData& data, ImatrixFormat format) {
  return format == ImatrixFormat::kGguf ? WriteImatrixGguf(path, data)
                                        : WriteImatrixDat(path, data);
}

}  // namespace shrink
