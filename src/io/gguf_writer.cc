#include "io/gguf_writer.h"

#include <fmt/ranges.h>

#include <cstring>
#include <limits>
#include <memory>
#include <set>

#include "base/check.h"
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
  void PutBytes(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
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

// Encodes an array: header, then its elements. A GgufArray holds only elements of its own type,
// each fitting it (gguf.h), so nothing here can fail; scalars go out as one block of stored bytes.
void PutArray(Encoder& out, const GgufArray& a) {
  out.Put<uint32_t>(static_cast<uint32_t>(a.element_type()));
  out.Put<uint64_t>(a.size());
  switch (a.element_type()) {
    case GgufValueType::kString:
      for (const std::string& s : a.values<std::string>()) out.PutString(s);
      return;
    case GgufValueType::kArray:
      for (const GgufArray& nested : a.values<GgufArray>()) PutArray(out, nested);
      return;
    default:
      out.PutBytes(a.scalar_bytes());
      return;
  }
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
      PutArray(out, *a);
      return Status::Ok();
    }
  }
  return Status::Errorf("unknown value type {}", static_cast<uint32_t>(v.type));
}

uint64_t PadTo(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// Everything before the first tensor's bytes, and what streaming the tensors needs from it.
struct EncodedHeader {
  std::vector<uint8_t> bytes;  // header, metadata, tensor table, padding to the alignment
  uint64_t alignment = kDefaultAlignment;
  std::vector<const TypeTraits*> types;  // per tensor
  std::vector<uint64_t> sizes;           // per tensor, padding excluded
};

Result<EncodedHeader> EncodeHeader(std::span<const std::pair<std::string, GgufValue>> metadata,
                                   std::span<const GgufTensorDecl> tensors) {
  EncodedHeader h;
  Encoder out;
  out.Put<uint32_t>(0x46554747);  // "GGUF"
  out.Put<uint32_t>(kVersion);
  out.Put<uint64_t>(tensors.size());
  out.Put<uint64_t>(metadata.size());

  std::set<std::string_view> keys;
  for (const auto& [key, value] : metadata) {
    if (!keys.insert(key).second) return Status::Errorf("duplicate metadata key '{}'", key);
    if (key == "general.alignment") {
      const auto* a = std::get_if<uint64_t>(&value.data);
      if (value.type != GgufValueType::kUint32 || a == nullptr || *a == 0 || (*a & (*a - 1)) != 0) {
        return Status::Error("metadata key 'general.alignment': expected a u32 power of two");
      }
      h.alignment = *a;
    }
    out.PutString(key);
    out.Put<uint32_t>(static_cast<uint32_t>(value.type));
    if (Status s = PutValue(out, value); !s.ok()) {
      return s.WithContext(fmt::format("metadata key '{}'", key));
    }
  }

  std::set<std::string_view> names;
  uint64_t offset = 0;
  h.types.reserve(tensors.size());
  h.sizes.reserve(tensors.size());
  for (const GgufTensorDecl& t : tensors) {
    auto context = [&] { return fmt::format("tensor '{}'", t.name); };
    if (!names.insert(t.name).second) return Status::Errorf("duplicate tensor name '{}'", t.name);
    if (t.shape.empty() || t.shape.size() > kMaxDims) {
      return Status::Errorf("{}: {} dimensions, expected 1..{}", context(), t.shape.size(),
                            kMaxDims);
    }
    out.PutString(t.name);
    out.Put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) {
      if (d <= 0) return Status::Errorf("{}: dimension {} is not > 0", context(), d);
      out.Put<int64_t>(d);
    }
    auto type = GgufTensorType(t.type_id);
    if (!type.ok()) return type.status().WithContext(context());
    auto size = GgufTensorBytes(**type, t.shape);
    if (!size.ok()) return size.status().WithContext(context());
    out.Put<uint32_t>(t.type_id);
    out.Put<uint64_t>(offset);
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    if (offset > kMax - h.alignment || *size > kMax - h.alignment - offset) {
      return Status::Errorf("{}: the data section would exceed 2^64 bytes", context());
    }
    offset += PadTo(*size, h.alignment);
    h.types.push_back(*type);
    h.sizes.push_back(*size);
  }
  h.bytes = std::move(out.bytes());
  h.bytes.resize(PadTo(h.bytes.size(), h.alignment), 0);
  return h;
}

// The one buffer behind every AppendInPlace of a write, grown to the largest request. Growing
// frees the old block before allocating the new one (its bytes were already written), so memory
// never holds both.
class InPlaceBuffer {
 public:
  std::span<uint8_t> Get(uint64_t n) {
    if (n > capacity_) {
      data_.reset();
      data_ = std::make_unique_for_overwrite<uint8_t[]>(n);
      capacity_ = n;
    }
    return {data_.get(), n};
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  uint64_t capacity_ = 0;
};

// The sink for one tensor. Append goes straight to the file; AppendInPlace bytes are written at
// the next call or by Finish. Errors do not name the tensor: the writer adds that context.
class TensorSink final : public GgufTensorSink {
 public:
  TensorSink(AtomicFileWriter& file, InPlaceBuffer& buffer, size_t index,
             const GgufTensorDecl& tensor, const TypeTraits& type, uint64_t size)
      : file_(file), buffer_(buffer), index_(index), tensor_(tensor), type_(type), size_(size) {}

  size_t index() const override { return index_; }
  const GgufTensorDecl& tensor() const override { return tensor_; }
  const TypeTraits& type() const override { return type_; }
  uint64_t size() const override { return size_; }
  uint64_t written() const override { return written_; }

  Status Append(std::span<const uint8_t> bytes) override {
    SHRINK_RETURN_IF_ERROR(Admit(bytes.size()));
    if (Status s = file_.Write(bytes); !s.ok()) return Fail(s);
    written_ += bytes.size();
    return Status::Ok();
  }

  Result<std::span<uint8_t>> AppendInPlace(uint64_t n) override {
    SHRINK_RETURN_IF_ERROR(Admit(n));
    pending_ = n;
    written_ += n;
    return buffer_.Get(n);
  }

  // After the producer returned OK: writes pending in-place bytes and checks that the tensor is
  // complete. Also reports a refused append or an I/O error that the producer did not pass on.
  Status Finish() {
    SHRINK_RETURN_IF_ERROR(FlushPending());
    SHRINK_RETURN_IF_ERROR(failed_);
    if (produced_ != size_) return CountError(produced_);
    return Status::Ok();
  }

 private:
  // Makes room for `n` more bytes: writes pending in-place bytes, then checks the size.
  Status Admit(uint64_t n) {
    SHRINK_RETURN_IF_ERROR(FlushPending());
    SHRINK_RETURN_IF_ERROR(failed_);
    const uint64_t after = n > std::numeric_limits<uint64_t>::max() - produced_
                               ? std::numeric_limits<uint64_t>::max()
                               : produced_ + n;
    produced_ = after;
    if (after > size_) return CountError(after);
    return Status::Ok();
  }

  Status FlushPending() {
    if (pending_ == 0) return Status::Ok();
    const uint64_t n = std::exchange(pending_, 0);
    if (Status s = file_.Write(buffer_.Get(n)); !s.ok()) return Fail(s);
    return Status::Ok();
  }

  Status Fail(const Status& s) {
    failed_ = s;
    return s;
  }

  Status CountError(uint64_t produced) const {
    return Status::Errorf("{} bytes produced, expected exactly {} (type {}, shape [{}])", produced,
                          size_, type_.name, fmt::join(tensor_.shape, ", "));
  }

  AtomicFileWriter& file_;
  InPlaceBuffer& buffer_;
  const size_t index_;
  const GgufTensorDecl& tensor_;
  const TypeTraits& type_;
  const uint64_t size_;
  uint64_t written_ = 0;   // accepted bytes, pending in-place ones included
  uint64_t produced_ = 0;  // accepted and refused bytes (saturating), for the count check
  uint64_t pending_ = 0;   // in-place bytes not yet written
  Status failed_;          // the first I/O error, if any
};

}  // namespace

Status WriteGgufStreaming(const std::string& path,
                          std::span<const std::pair<std::string, GgufValue>> metadata,
                          std::span<const GgufTensorDecl> tensors,
                          const GgufTensorProducer& produce) {
  SHRINK_CHECK(tensors.empty() || produce);
  auto fail = [&](const Status& s) { return s.WithContext(fmt::format("writing {}", path)); };
  auto header = EncodeHeader(metadata, tensors);
  if (!header.ok()) return fail(header.status());

  auto file = AtomicFileWriter::Create(path);
  if (!file.ok()) return fail(file.status());
  if (Status s = file->Write(header->bytes); !s.ok()) return fail(s);
  std::vector<uint8_t>().swap(header->bytes);  // release it: only one tensor is held from here on

  InPlaceBuffer buffer;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t size = header->sizes[i];
    TensorSink sink(*file, buffer, i, tensors[i], *header->types[i], size);
    Status s = produce(i, sink);
    if (s.ok()) s = sink.Finish();
    if (s.ok()) s = file->WriteZeros(PadTo(size, header->alignment) - size);
    if (!s.ok()) return fail(s.WithContext(fmt::format("tensor '{}'", tensors[i].name)));
  }
  if (Status s = file->Commit(); !s.ok()) return fail(s);
  return Status::Ok();
}

Result<uint64_t> GgufFileSize(std::span<const std::pair<std::string, GgufValue>> metadata,
                              std::span<const GgufTensorDecl> tensors) {
  SHRINK_ASSIGN_OR_RETURN(EncodedHeader header, EncodeHeader(metadata, tensors));
  uint64_t size = header.bytes.size();
  for (uint64_t bytes : header.sizes) size += PadTo(bytes, header.alignment);
  return size;
}

Status WriteGguf(const std::string& path,
                 std::span<const std::pair<std::string, GgufValue>> metadata,
                 std::span<const GgufTensorToWrite> tensors) {
  std::vector<GgufTensorDecl> decls;
  decls.reserve(tensors.size());
  for (const GgufTensorToWrite& t : tensors) decls.push_back({t.name, t.shape, t.type_id});
  return WriteGgufStreaming(path, metadata, decls, [&](size_t i, GgufTensorSink& sink) {
    return sink.Append(tensors[i].data);
  });
}

std::vector<GgufTensorToWrite> TensorsToWrite(const GgufFile& file) {
  std::vector<GgufTensorToWrite> out;
  out.reserve(file.tensors().size());
  for (const GgufTensorInfo& t : file.tensors()) {
    out.push_back({t.name, t.shape, t.type_id, t.data});
  }
  return out;
}

std::vector<GgufTensorDecl> TensorDecls(const GgufFile& file) {
  std::vector<GgufTensorDecl> out;
  out.reserve(file.tensors().size());
  for (const GgufTensorInfo& t : file.tensors()) out.push_back({t.name, t.shape, t.type_id});
  return out;
}

}  // namespace shrink
