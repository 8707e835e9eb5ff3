// Reading importance-matrix files (both formats) and their meaning (MeanSquares).
#include "io/imatrix_file.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/message_text.h"

namespace shrink {
namespace {

constexpr std::string_view kSumsSuffix = ".in_sum2";
constexpr std::string_view kCountsSuffix = ".counts";
// F32 holds every integer up to 2^24 exactly; a count is accepted up to 2^53 (a double's), far
// past any calibration run, so that llround is exact.
constexpr double kMaxCount = 0x1p53;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A sum must be finite and >= 0 (a sum of squares; llama-quantize rejects non-finite ones too).
Status CheckSums(std::span<const float> sums, std::string_view what) {
  for (size_t i = 0; i < sums.size(); ++i) {
    if (!std::isfinite(sums[i]) || sums[i] < 0) {
      return Status::Errorf("{} value {} is {}, expected a finite sum of squares >= 0", what, i,
                            sums[i]);
    }
  }
  return Status::Ok();
}

// ---- GGUF ---------------------------------------------------------------------------------------

Result<std::vector<std::string>> ReadDatasets(const GgufFile& file) {
  SHRINK_ASSIGN_OR_RETURN(const GgufArray* array, file.GetArray("imatrix.datasets"));
  if (array->element_type() != GgufValueType::kString) {
    return Status::Errorf("{}: key 'imatrix.datasets' is an array of {}, expected strings",
                          file.path(), GgufValueTypeName(array->element_type()));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < array->size(); ++i) out.push_back(array->StringAt(i));
  return out;
}

Result<int64_t> ReadU32Key(const GgufFile& file, std::string_view key) {
  SHRINK_ASSIGN_OR_RETURN(const int64_t v, file.GetInt(key));
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    return Status::Errorf("{}: key '{}' is {}, expected a u32", file.path(), key, v);
  }
  return v;
}

std::span<const float> F32Values(const GgufTensorInfo& t) {
  return {reinterpret_cast<const float*>(t.data.data()), t.data.size() / sizeof(float)};
}

// One NAME from its two tensors.
Result<ImatrixTensor> ReadGgufTensor(const GgufTensorInfo& sums, const GgufTensorInfo& counts) {
  for (const GgufTensorInfo* t : {&sums, &counts}) {
    if (t->type_id != static_cast<uint32_t>(TensorType::kF32)) {
      return Status::Errorf("tensor '{}' has type {}, expected F32", ForMessage(t->name),
                            t->traits->name);
    }
  }
  const int64_t n_mat = counts.element_count();
  const int64_t columns = sums.shape[0];
  // n_mat matrices of C_in columns: the sums' first dimension is C_in and the rest multiply to the
  // number of counts (llama.cpp writes [C_in, n_mat] and [1, n_mat]).
  if (sums.element_count() % n_mat != 0 || sums.element_count() / n_mat != columns) {
    return Status::Errorf(
        "tensor '{}' has {} elements ({} columns), but '{}' has {} counts: expected {} × {}",
        ForMessage(sums.name), sums.element_count(), columns, ForMessage(counts.name), n_mat,
        columns, n_mat);
  }
  ImatrixTensor out;
  out.columns = columns;
  const std::span<const float> s = F32Values(sums);
  SHRINK_RETURN_IF_ERROR(CheckSums(s, fmt::format("tensor '{}'", ForMessage(sums.name))));
  out.sums.assign(s.begin(), s.end());
  for (const float c : F32Values(counts)) {
    if (!std::isfinite(c) || c < 0 || c > kMaxCount) {
      return Status::Errorf("tensor '{}' holds count {}, expected a whole number of rows >= 0",
                            ForMessage(counts.name), c);
    }
    out.counts.push_back(std::llround(c));
  }
  return out;
}

Result<ImatrixData> ReadGguf(const std::string& path) {
  SHRINK_ASSIGN_OR_RETURN(const GgufFile file, GgufFile::Open(path));
  const GgufValue* type = file.Find("general.type");
  if (type == nullptr || type->type != GgufValueType::kString || type->AsString() != "imatrix") {
    return Status::Errorf(
        "{}: general.type is {}, expected 'imatrix' (is this a model rather than an imatrix?)",
        path,
        type == nullptr                        ? "missing"
        : type->type == GgufValueType::kString ? "'" + ForMessage(type->AsString()) + "'"
                                               : "not a string");
  }
  ImatrixData data;
  data.format = ImatrixFormat::kGguf;
  SHRINK_ASSIGN_OR_RETURN(data.datasets, ReadDatasets(file));
  SHRINK_ASSIGN_OR_RETURN(data.chunk_count, ReadU32Key(file, "imatrix.chunk_count"));
  SHRINK_ASSIGN_OR_RETURN(data.chunk_size, ReadU32Key(file, "imatrix.chunk_size"));

  // Pair NAME.in_sum2 with NAME.counts.
  std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>, std::less<>> pairs;
  for (const GgufTensorInfo& t : file.tensors()) {
    if (EndsWith(t.name, kSumsSuffix)) {
      pairs[t.name.substr(0, t.name.size() - kSumsSuffix.size())].first = &t;
    } else if (EndsWith(t.name, kCountsSuffix)) {
      pairs[t.name.substr(0, t.name.size() - kCountsSuffix.size())].second = &t;
    } else {
      return Status::Errorf("{}: tensor '{}' is neither NAME{} nor NAME{}", path,
                            ForMessage(t.name), kSumsSuffix, kCountsSuffix);
    }
  }
  if (pairs.empty()) return Status::Errorf("{}: no tensors: the imatrix is empty", path);
  for (const auto& [name, pair] : pairs) {
    if (name.empty()) {
      return Status::Errorf("{}: a tensor is named only '{}' or '{}': no weight tensor name", path,
                            kSumsSuffix, kCountsSuffix);
    }
    if (pair.first == nullptr || pair.second == nullptr) {
      return Status::Errorf("{}: tensor '{}{}' is missing (its partner '{}{}' is present)", path,
                            ForMessage(name), pair.first == nullptr ? kSumsSuffix : kCountsSuffix,
                            ForMessage(name), pair.first == nullptr ? kCountsSuffix : kSumsSuffix);
    }
    SHRINK_ASSIGN_OR_RETURN(ImatrixTensor t,
                            ReadGgufTensor(*pair.first, *pair.second).WithContext(path));
    data.tensors.emplace(name, std::move(t));
  }
  return data;
}

// ---- legacy .dat --------------------------------------------------------------------------------

// Little-endian reads over the file's bytes, each checked against the end.
class DatCursor {
 public:
  explicit DatCursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  Status ReadI32(int32_t* out, std::string_view what) {
    SHRINK_RETURN_IF_ERROR(Need(4, what));
    std::memcpy(out, bytes_.data() + pos_, 4);  // host is little-endian, like the format
    pos_ += 4;
    return Status::Ok();
  }
  std::span<const uint8_t> Take(uint64_t n) {  // REQUIRES: n <= remaining()
    const std::span<const uint8_t> out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  Status Need(uint64_t n, std::string_view what) const {
    if (n <= remaining()) return Status::Ok();
    return Status::Errorf("{} at offset {}: needs {} bytes, the file ends after {} (truncated)",
                          what, pos_, n, remaining());
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

// The smallest entry: len, a 1-byte name, ncall, nval, one value.
constexpr uint64_t kMinEntryBytes = 4 + 1 + 4 + 4 + 4;

Status ReadDatEntry(DatCursor& in, int32_t index, ImatrixData& data) {
  const uint64_t at = in.pos();
  auto where = [&](std::string_view name) {
    return name.empty() ? fmt::format("entry {} at offset {}", index, at)
                        : fmt::format("entry {} ('{}') at offset {}", index, ForMessage(name), at);
  };
  int32_t len = 0;
  SHRINK_RETURN_IF_ERROR(in.ReadI32(&len, where("") + ": name length"));
  if (len < 1 || static_cast<uint64_t>(len) > in.remaining()) {
    return Status::Errorf("{}: name length is {}, expected 1 to {} (the bytes left)", where(""),
                          len, in.remaining());
  }
  const std::span<const uint8_t> name_bytes = in.Take(static_cast<uint64_t>(len));
  std::string name(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
  int32_t ncall = 0, nval = 0;
  SHRINK_RETURN_IF_ERROR(in.ReadI32(&ncall, where(name) + ": ncall"));
  SHRINK_RETURN_IF_ERROR(in.ReadI32(&nval, where(name) + ": nval"));
  if (ncall < 0) return Status::Errorf("{}: ncall is {}, expected >= 0", where(name), ncall);
  if (nval < 1) return Status::Errorf("{}: nval is {}, expected >= 1", where(name), nval);
  SHRINK_RETURN_IF_ERROR(in.Need(uint64_t{4} * static_cast<uint64_t>(nval),
                                 fmt::format("{}: {} values", where(name), nval)));
  ImatrixTensor t;
  t.columns = nval;
  t.sums.resize(static_cast<size_t>(nval));
  std::memcpy(t.sums.data(), in.Take(uint64_t{4} * static_cast<uint64_t>(nval)).data(),
              t.sums.size() * sizeof(float));
  SHRINK_RETURN_IF_ERROR(CheckSums(t.sums, where(name)));
  t.counts = {ncall};
  if (!data.tensors.emplace(name, std::move(t)).second) {
    return Status::Errorf("{}: duplicate entry name", where(name));
  }
  return Status::Ok();
}

Result<ImatrixData> ReadDat(const std::string& path, std::span<const uint8_t> bytes) {
  DatCursor in(bytes);
  ImatrixData data;
  data.format = ImatrixFormat::kDat;
  int32_t n_entries = 0;
  SHRINK_RETURN_IF_ERROR(in.ReadI32(&n_entries, "entry count").WithContext(path));
  if (n_entries < 1 || static_cast<uint64_t>(n_entries) > in.remaining() / kMinEntryBytes) {
    return Status::Errorf(
        "{}: entry count at offset 0 is {}, expected 1 to {} (entries of at least {} bytes in the "
        "{} bytes left; a legacy .dat imatrix has no magic, so any file that does not start with "
        "'GGUF' is read as one)",
        path, n_entries, in.remaining() / kMinEntryBytes, kMinEntryBytes, in.remaining());
  }
  for (int32_t i = 0; i < n_entries; ++i) {
    SHRINK_RETURN_IF_ERROR(ReadDatEntry(in, i, data).WithContext(path));
  }
  // The optional trailer: nothing, the chunk count, or the chunk count and a dataset name.
  if (in.remaining() == 0) return data;
  const uint64_t trailer_at = in.pos();
  int32_t chunks = 0;
  SHRINK_RETURN_IF_ERROR(in.ReadI32(&chunks, "chunk count").WithContext(path));
  if (chunks < 0) {
    return Status::Errorf("{}: chunk count at offset {} is {}, expected >= 0", path, trailer_at,
                          chunks);
  }
  data.chunk_count = chunks;
  if (in.remaining() == 0) return data;
  const uint64_t len_at = in.pos();
  int32_t len = 0;
  SHRINK_RETURN_IF_ERROR(in.ReadI32(&len, "dataset name length").WithContext(path));
  if (len < 0 || static_cast<uint64_t>(len) != in.remaining()) {
    return Status::Errorf(
        "{}: dataset name length at offset {} is {}, expected the {} bytes left in the file", path,
        len_at, len, in.remaining());
  }
  const std::span<const uint8_t> name = in.Take(static_cast<uint64_t>(len));
  if (len > 0) data.datasets.emplace_back(reinterpret_cast<const char*>(name.data()), name.size());
  return data;
}

}  // namespace

std::string_view ImatrixFormatName(ImatrixFormat format) {
  return format == ImatrixFormat::kGguf ? "GGUF" : "legacy .dat";
}

Result<ImatrixData> ReadImatrixFile(const std::string& path) {
  SHRINK_ASSIGN_OR_RETURN(const MappedFile file, MappedFile::Open(path));
  const std::span<const uint8_t> bytes = file.bytes();
  if (bytes.size() < 4) {
    return Status::Errorf("{}: {} bytes, too short for an imatrix (GGUF or legacy .dat)", path,
                          bytes.size());
  }
  if (std::memcmp(bytes.data(), "GGUF", 4) == 0) return ReadGguf(path);
  return ReadDat(path, bytes);
}

std::vector<float> MeanSquares(ImatrixFormat format, const ImatrixTensor& tensor) {
  const size_t columns = static_cast<size_t>(tensor.columns);
  std::vector<float> out(tensor.sums.size());
  for (size_t m = 0; m < tensor.counts.size(); ++m) {
    const float count = static_cast<float>(tensor.counts[m]);
    for (size_t j = m * columns; j < (m + 1) * columns; ++j) {
      if (count > 0) {
        out[j] = tensor.sums[j] / count;
      } else {
        // No rows seen. llama-quantize weighs every column alike for a GGUF entry, and takes a
        // legacy entry's values as they are (llama-imatrix stores 1s there).
        out[j] = format == ImatrixFormat::kGguf ? 1.0f : tensor.sums[j];
      }
    }
  }
  return out;
}

}  // namespace shrink
