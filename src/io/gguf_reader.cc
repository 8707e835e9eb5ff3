// GgufFile::Open: parses and validates a GGUF v2/v3 file in place in its memory mapping.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "io/gguf.h"
#include "io/message_text.h"

namespace shrink {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;    // ggml's GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;  // nested arrays deeper than this are rejected (stack safety)
constexpr uint32_t kLastValueType = static_cast<uint32_t>(GgufValueType::kFloat64);

// Size in bytes of a fixed-size value type; 0 for string and array.
uint64_t FixedSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

// Smallest encoding of one value of `type`: a string is at least its u64 length, an array its
// u32 type + u64 count. Used to reject element counts that cannot fit before allocating for them.
uint64_t MinSize(GgufValueType type) {
  if (type == GgufValueType::kString) return 8;
  if (type == GgufValueType::kArray) return 12;
  return FixedSize(type);
}

// Reads little-endian fields from the mapped bytes; every read is checked against the end.
// Errors read "<what> at offset N: <problem>"; callers add the outer context.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename T>
  Status Read(T* out, std::string_view what) {
    SHRINK_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));  // host is little-endian, like the format
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status ReadString(std::string* out, std::string_view what) {
    const uint64_t at = pos_;
    uint64_t length = 0;
    SHRINK_RETURN_IF_ERROR(Read(&length, what));
    if (length > remaining()) {
      return Status::Errorf(
          "{} at offset {}: string length {} runs past the end of the file "
          "({} bytes, {} left)",
          what, at, length, size(), remaining());
    }
    out->assign(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return Status::Ok();
  }

  // The next `n` bytes, which the caller has checked are there (Need).
  std::span<const uint8_t> Take(uint64_t n) {
    const std::span<const uint8_t> out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  Status Need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return Status::Errorf("{} at offset {}: needs {} bytes but the file ends at {} (truncated?)",
                            what, pos_, n, size());
    }
    return Status::Ok();
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

Status ReadValueType(Cursor& in, GgufValueType* type, std::string_view what) {
  const uint64_t at = in.pos();
  uint32_t raw = 0;
  SHRINK_RETURN_IF_ERROR(in.Read(&raw, what));
  if (raw > kLastValueType) {
    return Status::Errorf("{} at offset {}: unknown value type {}, expected 0..{}", what, at, raw,
                          kLastValueType);
  }
  *type = static_cast<GgufValueType>(raw);
  return Status::Ok();
}

template <typename Stored, typename Wide>
Status ReadScalar(Cursor& in, GgufValue* out, std::string_view what) {
  Stored v{};
  SHRINK_RETURN_IF_ERROR(in.Read(&v, what));
  out->data = static_cast<Wide>(v);
  return Status::Ok();
}

Status ReadValue(Cursor& in, GgufValueType type, int depth, GgufValue* out) {
  out->type = type;
  switch (type) {
    case GgufValueType::kUint8:
      return ReadScalar<uint8_t, uint64_t>(in, out, "u8 value");
    case GgufValueType::kInt8:
      return ReadScalar<int8_t, int64_t>(in, out, "i8 value");
    case GgufValueType::kUint16:
      return ReadScalar<uint16_t, uint64_t>(in, out, "u16 value");
    case GgufValueType::kInt16:
      return ReadScalar<int16_t, int64_t>(in, out, "i16 value");
    case GgufValueType::kUint32:
      return ReadScalar<uint32_t, uint64_t>(in, out, "u32 value");
    case GgufValueType::kInt32:
      return ReadScalar<int32_t, int64_t>(in, out, "i32 value");
    case GgufValueType::kUint64:
      return ReadScalar<uint64_t, uint64_t>(in, out, "u64 value");
    case GgufValueType::kInt64:
      return ReadScalar<int64_t, int64_t>(in, out, "i64 value");
    case GgufValueType::kFloat32:
      return ReadScalar<float, double>(in, out, "f32 value");
    case GgufValueType::kFloat64:
      return ReadScalar<double, double>(in, out, "f64 value");
    case GgufValueType::kBool: {
      const uint64_t at = in.pos();
      uint8_t b = 0;
      SHRINK_RETURN_IF_ERROR(in.Read(&b, "bool value"));
      if (b > 1) return Status::Errorf("bool value at offset {}: byte {}, expected 0 or 1", at, b);
      out->data = b == 1;
      return Status::Ok();
    }
    case GgufValueType::kString: {
      std::string s;
      SHRINK_RETURN_IF_ERROR(in.ReadString(&s, "string value"));
      out->data = std::move(s);
      return Status::Ok();
    }
    case GgufValueType::kArray: {
      const uint64_t at = in.pos();
      if (depth >= kMaxArrayDepth) {
        return Status::Errorf("array at offset {}: nested deeper than {} levels", at,
                              kMaxArrayDepth);
      }
      GgufValueType element_type{};
      SHRINK_RETURN_IF_ERROR(ReadValueType(in, &element_type, "array element type"));
      uint64_t count = 0;
      const uint64_t count_at = in.pos();
      SHRINK_RETURN_IF_ERROR(in.Read(&count, "array length"));
      const uint64_t min_size = MinSize(element_type);
      if (count > in.remaining() / min_size) {
        return Status::Errorf(
            "array length at offset {}: {} elements of type {} need at least {} "
            "bytes per element but only {} bytes are left in the file",
            count_at, count, GgufValueTypeName(element_type), min_size, in.remaining());
      }
      GgufArray array(element_type);
      if (const uint64_t fixed = FixedSize(element_type); fixed > 0) {
        // Scalars are copied as stored into the array's one buffer (count × fixed bytes are there:
        // fixed == min_size), never one GgufValue each.
        const uint64_t data_at = in.pos();
        const std::span<const uint8_t> stored = in.Take(count * fixed);
        if (element_type == GgufValueType::kBool) {
          for (uint64_t i = 0; i < count; ++i) {
            if (stored[i] > 1) {
              return Status::Errorf(
                  "array element {}: bool value at offset {}: byte {}, expected 0 or 1", i,
                  data_at + i, stored[i]);
            }
          }
        }
        array.AppendStored(stored);
      } else {
        array.Reserve(count);
        for (uint64_t i = 0; i < count; ++i) {
          GgufValue element;
          Status s = ReadValue(in, element_type, depth + 1, &element);
          if (!s.ok()) return s.WithContext(fmt::format("array element {}", i));
          array.Push(std::move(element));
        }
      }
      out->data = std::move(array);
      return Status::Ok();
    }
  }
  return Status::Errorf("unknown value type {}", static_cast<uint32_t>(type));  // unreachable
}

uint64_t PadTo(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

int64_t GgufTensorInfo::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated against overflow by Open
  return n;
}

Result<GgufFile> GgufFile::Open(const std::string& path) {
  auto mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  GgufFile f;
  f.path_ = path;
  f.file_ = std::make_shared<MappedFile>(std::move(mapped).value());
  const std::span<const uint8_t> bytes = f.file_->bytes();
  Cursor in(bytes);
  auto fail = [&](const Status& s) { return s.WithContext(path); };

  // Header.
  uint32_t magic = 0;
  if (Status s = in.Read(&magic, "magic"); !s.ok()) return fail(s);
  if (magic != kMagic) {
    return fail(
        Status::Errorf("magic at offset 0: found {:02x} {:02x} {:02x} {:02x}, expected "
                       "\"GGUF\" (47 47 55 46); not a GGUF file",
                       bytes[0], bytes[1], bytes[2], bytes[3]));
  }
  if (Status s = in.Read(&f.version_, "version"); !s.ok()) return fail(s);
  if (f.version_ != 2 && f.version_ != 3) {
    const bool swapped = f.version_ == 0x02000000 || f.version_ == 0x03000000;
    return fail(Status::Errorf("version at offset 4: {}{}, expected 3 (or 2)", f.version_,
                               swapped ? " (a big-endian GGUF, which shrink does not read)" : ""));
  }
  uint64_t tensor_count = 0, kv_count = 0;
  if (Status s = in.Read(&tensor_count, "tensor_count"); !s.ok()) return fail(s);
  if (Status s = in.Read(&kv_count, "metadata_kv_count"); !s.ok()) return fail(s);
  // Each key-value pair takes at least 8 + 4 + 1 bytes and each tensor entry 8 + 4 + 4 + 8.
  if (kv_count > in.remaining() / 13) {
    return fail(
        Status::Errorf("metadata_kv_count at offset 16: {} entries cannot fit in the {} "
                       "bytes left in the file (truncated?)",
                       kv_count, in.remaining()));
  }
  if (tensor_count > in.remaining() / 24) {
    return fail(
        Status::Errorf("tensor_count at offset 8: {} entries cannot fit in the {} bytes "
                       "left in the file (truncated?)",
                       tensor_count, in.remaining()));
  }

  // Metadata.
  f.metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t entry_at = in.pos();
    std::string key;
    if (Status s = in.ReadString(&key, "key"); !s.ok()) {
      return fail(s.WithContext(fmt::format("metadata entry {}", i)));
    }
    auto context = [&] {
      return fmt::format("metadata key '{}' (entry {} at offset {})", ForMessage(key), i, entry_at);
    };
    GgufValueType type{};
    GgufValue value;
    if (Status s = ReadValueType(in, &type, "value type"); !s.ok()) {
      return fail(s.WithContext(context()));
    }
    if (Status s = ReadValue(in, type, 0, &value); !s.ok()) return fail(s.WithContext(context()));
    auto [it, inserted] = f.metadata_index_.emplace(key, f.metadata_.size());
    if (!inserted) {
      return fail(
          Status::Errorf("{}: duplicate key, first defined in entry {}", context(), it->second));
    }
    f.metadata_.emplace_back(std::move(key), std::move(value));
  }

  // Alignment.
  if (const GgufValue* a = f.Find("general.alignment")) {
    if (a->type != GgufValueType::kUint32) {
      return fail(Status::Errorf("metadata key 'general.alignment': type {}, expected u32",
                                 GgufValueTypeName(a->type)));
    }
    const uint64_t alignment = a->AsUint();
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
      return fail(
          Status::Errorf("metadata key 'general.alignment': {} is not a power of two", alignment));
    }
    f.alignment_ = alignment;
  } else {
    f.alignment_ = kDefaultAlignment;
  }

  // Tensor table.
  f.tensors_.reserve(tensor_count);
  std::vector<uint64_t> tensor_bytes;  // per entry, from its type and shape
  tensor_bytes.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo t;
    t.info_offset = in.pos();
    if (Status s = in.ReadString(&t.name, "name"); !s.ok()) {
      return fail(s.WithContext(fmt::format("tensor entry {}", i)));
    }
    auto context = [&] {
      return fmt::format("tensor '{}' (entry {} at offset {})", ForMessage(t.name), i,
                         t.info_offset);
    };
    const uint64_t dims_at = in.pos();
    uint32_t n_dims = 0;
    if (Status s = in.Read(&n_dims, "n_dims"); !s.ok()) return fail(s.WithContext(context()));
    if (n_dims > kMaxDims) {
      return fail(Status::Errorf("{}: n_dims at offset {} is {}, expected at most {}", context(),
                                 dims_at, n_dims, kMaxDims));
    }
    // ggml reads 0 dimensions as a scalar, but never writes one; shrink's contract (and its writer)
    // is 1..4 dimensions, so every reader of a tensor table may use shape[0].
    if (n_dims == 0) {
      return fail(
          Status::Errorf("{}: n_dims at offset {} is 0, expected at least 1", context(), dims_at));
    }
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = in.pos();
      int64_t ne = 0;
      if (Status s = in.Read(&ne, "dimension"); !s.ok()) return fail(s.WithContext(context()));
      if (ne <= 0) {
        return fail(Status::Errorf("{}: dimension {} at offset {} is {}, expected > 0", context(),
                                   d, dim_at, ne));
      }
      if (elements > std::numeric_limits<int64_t>::max() / ne) {
        return fail(
            Status::Errorf("{}: dimension {} at offset {} ({}) makes the element count "
                           "overflow int64",
                           context(), d, dim_at, ne));
      }
      elements *= ne;
      t.shape.push_back(ne);
    }
    const uint64_t type_at = in.pos();
    if (Status s = in.Read(&t.type_id, "type"); !s.ok()) return fail(s.WithContext(context()));
    auto traits = GgufTensorType(t.type_id);
    if (!traits.ok()) {
      return fail(
          traits.status().WithContext(fmt::format("{}: type at offset {}", context(), type_at)));
    }
    t.traits = *traits;
    auto nbytes = GgufTensorBytes(*t.traits, t.shape);
    if (!nbytes.ok()) return fail(nbytes.status().WithContext(context()));
    const uint64_t offset_at = in.pos();
    if (Status s = in.Read(&t.offset, "data offset"); !s.ok()) {
      return fail(s.WithContext(context()));
    }
    if (t.offset % f.alignment_ != 0) {
      return fail(
          Status::Errorf("{}: data offset {} at offset {} is not a multiple of the "
                         "alignment {}",
                         context(), t.offset, offset_at, f.alignment_));
    }
    auto [it, inserted] = f.tensor_index_.emplace(t.name, f.tensors_.size());
    if (!inserted) {
      return fail(Status::Errorf("{}: duplicate tensor name, first defined in entry {}", context(),
                                 it->second));
    }
    f.tensors_.push_back(std::move(t));
    tensor_bytes.push_back(*nbytes);
  }

  // Data section: starts at the next multiple of the alignment.
  f.data_offset_ = PadTo(in.pos(), f.alignment_);
  const uint64_t file_size = bytes.size();
  if (!f.tensors_.empty() && f.data_offset_ > file_size) {
    return fail(
        Status::Errorf("data section at offset {} (tensor table end {} padded to {}): "
                       "starts past the end of the file ({} bytes)",
                       f.data_offset_, in.pos(), f.alignment_, file_size));
  }
  // Tensors in data order, to find each one's extent and check that none overlap.
  std::vector<size_t> order(f.tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
  const uint64_t data_size = file_size - std::min(file_size, f.data_offset_);
  for (size_t k = 0; k < order.size(); ++k) {
    GgufTensorInfo& t = f.tensors_[order[k]];
    auto context = [&] {
      return fmt::format("tensor '{}' (entry {} at offset {})", ForMessage(t.name), order[k],
                         t.info_offset);
    };
    if (t.offset > data_size) {
      return fail(Status::Errorf(
          "{}: data at offset {} (data section offset {} + {}) starts past "
          "the end of the file ({} bytes)",
          context(), f.data_offset_ + t.offset, f.data_offset_, t.offset, file_size));
    }
    const uint64_t next = k + 1 < order.size() ? f.tensors_[order[k + 1]].offset : data_size;
    const uint64_t nbytes = tensor_bytes[order[k]];
    if (nbytes > data_size - t.offset) {
      return fail(
          Status::Errorf("{}: data at offset {} + {} bytes runs past the end of the file "
                         "({} bytes)",
                         context(), f.data_offset_ + t.offset, nbytes, file_size));
    }
    if (nbytes > next - t.offset) {
      return fail(
          Status::Errorf("{}: data at offset {} + {} bytes overlaps the next tensor at "
                         "offset {}",
                         context(), f.data_offset_ + t.offset, nbytes, f.data_offset_ + next));
    }
    t.data = bytes.subspan(f.data_offset_ + t.offset, nbytes);
  }
  return f;
}

uint64_t GgufFile::file_size() const { return file_->bytes().size(); }

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

std::vector<std::pair<std::string, GgufValue>> GgufFile::ReleaseMetadata() {
  metadata_index_.clear();
  return std::exchange(metadata_, {});
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Status::Errorf("{}: missing required key '{}'", path_, key);
  if (!v->is_integer()) {
    return Status::Errorf("{}: key '{}' has type {}, expected an integer", path_, key,
                          GgufValueTypeName(v->type));
  }
  if (const auto* u = std::get_if<uint64_t>(&v->data);
      u != nullptr && *u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::Errorf("{}: key '{}' value {} does not fit int64", path_, key, *u);
  }
  return v->AsInt();
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Status::Errorf("{}: missing required key '{}'", path_, key);
  if (!v->is_integer() && !v->is_float()) {
    return Status::Errorf("{}: key '{}' has type {}, expected a number", path_, key,
                          GgufValueTypeName(v->type));
  }
  return v->AsFloat();
}

Result<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Status::Errorf("{}: missing required key '{}'", path_, key);
  if (v->type != GgufValueType::kString) {
    return Status::Errorf("{}: key '{}' has type {}, expected string", path_, key,
                          GgufValueTypeName(v->type));
  }
  return v->AsString();
}

Result<const GgufArray*> GgufFile::GetArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Status::Errorf("{}: missing required key '{}'", path_, key);
  if (v->type != GgufValueType::kArray) {
    return Status::Errorf("{}: key '{}' has type {}, expected array", path_, key,
                          GgufValueTypeName(v->type));
  }
  return &v->AsArray();
}

}  // namespace shrink
