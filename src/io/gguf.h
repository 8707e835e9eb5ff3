// GGUF v3: reading (memory-mapped, zero-copy tensor data) and the value model shared with the
// writer.
//
// Layout (little-endian; full prose in docs/formats.md):
//   u32 magic "GGUF" | u32 version (3; 2 also read) | u64 tensor_count | u64 metadata_kv_count
//   metadata_kv_count × { string key | u32 value_type | value }
//   tensor_count × { string name | u32 n_dims | n_dims × u64 ne | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32) | tensor data (each tensor's offset is relative to
//     here and a multiple of the alignment)
//   string = u64 length + bytes (no terminator); array = u32 element_type + u64 count + elements
//     (arrays may nest).
// Tensor element types come from the types table (formats/types.h, the layer below io).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "formats/types.h"
#include "io/mapped_file.h"

namespace shrink {

// GGUF metadata value type ids, as stored in the file.
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
const char* GgufValueTypeName(GgufValueType type);
bool GgufTypeIsInteger(GgufValueType type);   // any of the eight integer types (not bool)
bool GgufTypeIsUnsigned(GgufValueType type);  // u8, u16, u32, u64

struct GgufValue;

// A metadata array: its element type (kept even when empty, so the array writes back identically)
// and its elements in one typed buffer. Scalar elements are stored at their stored width, contiguous
// (a 20-million-element u8 array costs 20 MB, not one variant per element); bools as bytes 0/1;
// strings and nested arrays as vectors of them.
//
// Element access: the typed getters below (same contracts as GgufValue's AsInt/AsUint/...), or the
// whole buffer as values<T>(), where T is the stored C++ type: uint8_t (u8 and bool), int8_t,
// uint16_t, int16_t, uint32_t, int32_t, uint64_t, int64_t, float, double, std::string, GgufArray.
class GgufArray {
 public:
  GgufArray() : GgufArray(GgufValueType::kUint8) {}
  explicit GgufArray(GgufValueType element_type);
  // An array of `element_type` holding `values`, e.g. GgufArray{kInt32, {GgufValue::I32(1)}}.
  // REQUIRES: each value has type `element_type` and fits it (FromValues checks instead).
  GgufArray(GgufValueType element_type, std::initializer_list<GgufValue> values);
  // As above; an error names the first value whose type differs from `element_type` or whose value
  // does not fit it ("array element 1 has type i32, expected the array's element type u8").
  static Result<GgufArray> FromValues(GgufValueType element_type,
                                      std::span<const GgufValue> values);

  GgufValueType element_type() const { return element_type_; }
  size_t size() const;
  bool empty() const { return size() == 0; }

  // Appends one element. REQUIRES: value.type == element_type() and the value fits it.
  void Push(GgufValue value);
  // Appends one element; the error of FromValues otherwise (without the element index).
  Status TryPush(GgufValue value);
  void Reserve(size_t n);

  // Element i as a value (strings and nested arrays are copied). REQUIRES: i < size().
  GgufValue At(size_t i) const;
  // Typed element access. REQUIRES: i < size() and the matching kind, as for GgufValue: IntAt/UintAt
  // an integer element type whose value fits the result, FloatAt a float or integer type,
  // BoolAt/StringAt/ArrayAt exactly that type.
  int64_t IntAt(size_t i) const;
  uint64_t UintAt(size_t i) const;
  double FloatAt(size_t i) const;
  bool BoolAt(size_t i) const;
  const std::string& StringAt(size_t i) const;
  const GgufArray& ArrayAt(size_t i) const;

  // All elements. REQUIRES: T is the stored type of element_type() (see above).
  template <typename T>
  std::span<const T> values() const {
    const auto* v = std::get_if<std::vector<T>>(&storage_);
    CheckStoredType(v != nullptr);
    return *v;
  }
  // A fixed-size element type's elements as stored in the file (little-endian, like the host);
  // empty for string and array element types.
  std::span<const uint8_t> scalar_bytes() const;
  // Appends elements of a fixed-size element type from their stored bytes (as scalar_bytes() gives
  // them). REQUIRES: a fixed-size element type; bytes.size() a multiple of its size; for bool, each
  // byte 0 or 1 (a reader checks first, to report the offset).
  void AppendStored(std::span<const uint8_t> bytes);

 private:
  using Storage =
      std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>,
                   std::vector<int16_t>, std::vector<uint32_t>, std::vector<int32_t>,
                   std::vector<uint64_t>, std::vector<int64_t>, std::vector<float>,
                   std::vector<double>, std::vector<std::string>, std::vector<GgufArray>>;
  static void CheckStoredType(bool ok);

  GgufValueType element_type_;
  Storage storage_;
};

// One metadata value. `type` is the stored type; `data` holds it in the widest C++ type of its
// kind.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> data;

  // Accessors. REQUIRES: the matching kind: AsInt/AsUint an integer type whose value fits the
  // result; AsFloat a float or integer type; AsBool/AsString/AsArray exactly that type.
  int64_t AsInt() const;
  uint64_t AsUint() const;
  double AsFloat() const;
  bool AsBool() const { return std::get<bool>(data); }
  const std::string& AsString() const { return std::get<std::string>(data); }
  const GgufArray& AsArray() const { return std::get<GgufArray>(data); }

  static GgufValue U8(uint8_t v), I8(int8_t v), U16(uint16_t v), I16(int16_t v), U32(uint32_t v),
      I32(int32_t v), F32(float v), Bool(bool v), U64(uint64_t v), I64(int64_t v), F64(double v),
      String(std::string v), Array(GgufArray v);

  bool is_integer() const;  // any of the eight integer types
  bool is_float() const;    // f32 or f64
};

// One entry of the tensor table. `data` points into the mapped file.
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  uint32_t type_id = 0;        // ggml type id as stored
  // The row of `type_id` in the types table; never null in a GgufFile (Open rejects unknown ids),
  // so callers need not look the type up again.
  const TypeTraits* traits = nullptr;
  uint64_t offset = 0;       // relative to the start of the data section
  uint64_t info_offset = 0;  // absolute offset of this entry in the tensor table (for messages)
  std::span<const uint8_t> data;  // exactly the tensor's bytes (GgufTensorBytes), padding excluded
  int64_t element_count() const;
};

// The types-table row of ggml type id `type_id`, or the error "unknown tensor type id 99, expected
// one of the ids in formats/types.h".
Result<const TypeTraits*> GgufTensorType(uint32_t type_id);

// Bytes that a tensor of `type` and `shape` (ggml order, shape[0] the row) occupies in the data
// section: RowBytes(shape[0]) × the other dimensions, padding excluded. Errors (naming the type): a
// row that is not a whole number of blocks, a byte count that overflows 64 bits.
// REQUIRES: every dimension > 0.
Result<uint64_t> GgufTensorBytes(const TypeTraits& type, std::span<const int64_t> shape);

// A GGUF file opened read-only. Tensor data stays in the mapping, which the object owns (copies
// share it); `data` spans stay valid while any copy lives.
class GgufFile {
 public:
  // Reads and validates the header, metadata and tensor table of `path`: magic, version, every
  // value type, string and array lengths against the file size, general.alignment (u32, a power of
  // two), duplicate keys and tensor names, dimensions (1..4 of them, each > 0, product within
  // int64), tensor type ids (each must be in formats/types.h), rows that are whole blocks, tensor
  // offsets (multiples of the alignment) and data ranges (inside the file, not overlapping the
  // next tensor). Each tensor's `traits` is its type's row and `data` spans exactly its bytes.
  // Errors name the file, the field or tensor, the byte offset and what was expected, e.g.
  // "m.gguf: tensor 'w' (entry 0 at offset 24): type at offset 45: unknown tensor type id 77, ...".
  static Result<GgufFile> Open(const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  uint64_t file_size() const;

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* Find(std::string_view key) const;  // nullptr when absent
  // Moves the metadata out (for a Model that keeps it, so it is not held twice: a 262,144-token
  // vocabulary's arrays are tens of MB). Afterwards the file has no metadata and Find finds nothing;
  // tensors are unaffected.
  std::vector<std::pair<std::string, GgufValue>> ReleaseMetadata();

  // Typed lookups for required keys; errors name the file and key ("missing required key ...",
  // "key ... has type string, expected an integer").
  Result<int64_t> GetInt(std::string_view key) const;   // any integer type
  Result<double> GetFloat(std::string_view key) const;  // f32/f64 (integers accepted too)
  Result<std::string> GetString(std::string_view key) const;
  Result<const GgufArray*> GetArray(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;  // nullptr when absent

 private:
  std::string path_;
  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace shrink
