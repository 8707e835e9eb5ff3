#include "io/gguf_writer.h"

#include <cstring>
#include <limits>
#include <set>

#include "io/atomic_file.h"

namespace shrink {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;

// Appends little-endian fields to an in-memory header.
class Encoder {
 public:
  template <typename T>
  void Put(T v) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));  // host is little-endian, like the format
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

template <typename T>
Status PutUnsigned(Encoder& out, const GgufValue& v) {
  const auto* u = std::get_if<uint64_t>(&v.data);
  if (u == nullptr)
    return Status::Errorf("type {} holds a non-unsigned value", GgufValueTypeName(v.type));
  if (*u > std::numeric_limits<T>::max()) {
    return Status::Errorf("value {} does not fit type {}", *u, GgufValueTypeName(v.type));
  }
  out.Put<T>(static_cast<T>(*u));
  return Status::Ok();
}

template <typename T>
Status PutSigned(Encoder& out, const GgufValue& v) {
  const auto* i = std::get_if<int64_t>(&v.data);
  if (i == nullptr)
    return Status::Errorf("type {} holds a non-signed value", GgufValueTypeName(v.type));
  if (*i < std::numeric_limits<T>::min() || *i > std::numeric_limits<T>::max()) {
    return Status::Errorf("value {} does not fit type {}", *i, GgufValueTypeName(v.type));
  }
  out.Put<T>(static_cast<T>(*i));
  return Status::Ok();
}

template <typename T>
Status PutFloat(Encoder& out, const GgufValue& v) {
  const auto* d = std::get_if<double>(&v.data);
  if (d == nullptr)
    return Status::Errorf("type {} holds a non-float value", GgufValueTypeName(v.type));
  out.Put<T>(static_cast<T>(*d));
  return Status::Ok();
}

// Encodes the value only (its type id is written by the caller: key entry or array header).
Status PutValue(Encoder& out, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::kUint8:
      return PutUnsigned<uint8_t>(out, v);
    case GgufValueType::kUint16:
      return PutUnsigned<uint16_t>(out, v);
    case GgufValueType::kUint32:
      return PutUnsigned<uint32_t>(out, v);
    case GgufValueType::kUint64:
      return PutUnsigned<uint64_t>(out, v);
    case GgufValueType::kInt8:
      return PutSigned<int8_t>(out, v);
    case GgufValueType::kInt16:
      return PutSigned<int16_t>(out, v);
    case GgufValueType::kInt32:
      return PutSigned<int32_t>(out, v);
    case GgufValueType::kInt64:
      return PutSigned<int64_t>(out, v);
    case GgufValueType::kFloat32:
      return PutFloat<float>(out, v);
    case GgufValueType::kFloat64:
      return PutFloat<double>(out, v);
    case GgufValueType::kBool: {
      const auto* b = std::get_if<bool>(&v.data);
      if (b == nullptr) return Status::Error("type bool holds a non-bool value");
      out.Put<uint8_t>(*b ? 1 : 0);
      return Status::Ok();
    }
    case GgufValueType::kString: {
      const auto* s = std::get_if<std::string>(&v.data);
      if (s == nullptr) return Status::Error("type string holds a non-string value");
      out.PutString(*s);
      return Status::Ok();
    }
    case GgufValueType::kArray: {
      const auto* a = std::get_if<GgufArray>(&v.data);
      if (a == nullptr) return Status::Error("type array holds a non-array value");
      out.Put<uint32_t>(static_cast<uint32_t>(a->element_type));
      out.Put<uint64_t>(a->elements.size());
      for (size_t i = 0; i < a->elements.size(); ++i) {
        const GgufValue& e = a->elements[i];
        if (e.type != a->element_type) {
          return Status::Errorf(
              "array element {} has type {}, expected the array's element type {}", i,
              GgufValueTypeName(e.type), GgufValueTypeName(a->element_type));
        }
        if (Status s = PutValue(out, e); !s.ok()) {
          return s.WithContext(fmt::format("array element {}", i));
        }
      }
      return Status::Ok();
    }
  }
  return Status::Errorf("unknown value type {}", static_cast<uint32_t>(v.type));
}

uint64_t PadTo(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

Status WriteGguf(const std::string& path,
                 std::span<const std::pair<std::string, GgufValue>> metadata,
                 std::span<const GgufTensorToWrite> tensors) {
  auto fail = [&](const Status& s) { return s.WithContext(fmt::format("writing {}", path)); };
  Encoder out;
  out.Put<uint32_t>(0x46554747);  // "GGUF"
  out.Put<uint32_t>(kVersion);
  out.Put<uint64_t>(tensors.size());
  out.Put<uint64_t>(metadata.size());

  uint64_t alignment = kDefaultAlignment;
  std::set<std::string_view> keys;
  for (const auto& [key, value] : metadata) {
    if (!keys.insert(key).second) return fail(Status::Errorf("duplicate metadata key '{}'", key));
    if (key == "general.alignment") {
      const auto* a = std::get_if<uint64_t>(&value.data);
      if (value.type != GgufValueType::kUint32 || a == nullptr || *a == 0 || (*a & (*a - 1)) != 0) {
        return fail(Status::Error("metadata key 'general.alignment': expected a u32 power of two"));
      }
      alignment = *a;
    }
    out.PutString(key);
    out.Put<uint32_t>(static_cast<uint32_t>(value.type));
    if (Status s = PutValue(out, value); !s.ok()) {
      return fail(s.WithContext(fmt::format("metadata key '{}'", key)));
    }
  }

  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const GgufTensorToWrite& t : tensors) {
    if (!names.insert(t.name).second) {
      return fail(Status::Errorf("duplicate tensor name '{}'", t.name));
    }
    if (t.shape.empty() || t.shape.size() > kMaxDims) {
      return fail(Status::Errorf("tensor '{}': {} dimensions, expected 1..{}", t.name,
                                 t.shape.size(), kMaxDims));
    }
    out.PutString(t.name);
    out.Put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) {
      if (d <= 0) return fail(Status::Errorf("tensor '{}': dimension {} is not > 0", t.name, d));
      out.Put<int64_t>(d);
    }
    out.Put<uint32_t>(t.type_id);
    out.Put<uint64_t>(offset);
    offset += PadTo(t.data.size(), alignment);
  }

  auto file = AtomicFileWriter::Create(path);
  if (!file.ok()) return fail(file.status());
  std::vector<uint8_t>& header = out.bytes();
  header.resize(PadTo(header.size(), alignment), 0);
  if (Status s = file->Write(header); !s.ok()) return fail(s);
  for (const GgufTensorToWrite& t : tensors) {
    if (Status s = file->Write(t.data); !s.ok()) return fail(s);
    if (Status s = file->WriteZeros(PadTo(t.data.size(), alignment) - t.data.size()); !s.ok()) {
      return fail(s);
    }
  }
  if (Status s = file->Commit(); !s.ok()) return fail(s);
  return Status::Ok();
}

std::vector<GgufTensorToWrite> TensorsToWrite(const GgufFile& file) {
  std::vector<GgufTensorToWrite> out;
  out.reserve(file.tensors().size());
  for (const GgufTensorInfo& t : file.tensors()) {
    out.push_back({t.name, t.shape, t.type_id, t.data});
  }
  return out;
}

}  // namespace shrink
