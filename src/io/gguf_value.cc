// GgufValue: constructors, kind tests and accessors.
#include <limits>

#include "base/check.h"
#include "io/gguf.h"

namespace shrink {

const char* GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "u8";
    case GgufValueType::kInt8:
      return "i8";
    case GgufValueType::kUint16:
      return "u16";
    case GgufValueType::kInt16:
      return "i16";
    case GgufValueType::kUint32:
      return "u32";
    case GgufValueType::kInt32:
      return "i32";
    case GgufValueType::kFloat32:
      return "f32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kUint64:
      return "u64";
    case GgufValueType::kInt64:
      return "i64";
    case GgufValueType::kFloat64:
      return "f64";
  }
  return "unknown";
}

bool GgufTypeIsUnsigned(GgufValueType type) {
  return type == GgufValueType::kUint8 || type == GgufValueType::kUint16 ||
         type == GgufValueType::kUint32 || type == GgufValueType::kUint64;
}

bool GgufTypeIsInteger(GgufValueType type) {
  return GgufTypeIsUnsigned(type) || type == GgufValueType::kInt8 ||
         type == GgufValueType::kInt16 || type == GgufValueType::kInt32 ||
         type == GgufValueType::kInt64;
}

namespace {
GgufValue Make(GgufValueType type, decltype(GgufValue::data) data) {
  GgufValue v;
  v.type = type;
  v.data = std::move(data);
  return v;
}
}  // namespace

GgufValue GgufValue::U8(uint8_t v) { return Make(GgufValueType::kUint8, uint64_t{v}); }
GgufValue GgufValue::I8(int8_t v) { return Make(GgufValueType::kInt8, int64_t{v}); }
GgufValue GgufValue::U16(uint16_t v) { return Make(GgufValueType::kUint16, uint64_t{v}); }
GgufValue GgufValue::I16(int16_t v) { return Make(GgufValueType::kInt16, int64_t{v}); }
GgufValue GgufValue::U32(uint32_t v) { return Make(GgufValueType::kUint32, uint64_t{v}); }
GgufValue GgufValue::I32(int32_t v) { return Make(GgufValueType::kInt32, int64_t{v}); }
GgufValue GgufValue::F32(float v) { return Make(GgufValueType::kFloat32, double{v}); }
GgufValue GgufValue::Bool(bool v) { return Make(GgufValueType::kBool, v); }
GgufValue GgufValue::U64(uint64_t v) { return Make(GgufValueType::kUint64, v); }
GgufValue GgufValue::I64(int64_t v) { return Make(GgufValueType::kInt64, v); }
GgufValue GgufValue::F64(double v) { return Make(GgufValueType::kFloat64, v); }
GgufValue GgufValue::String(std::string v) { return Make(GgufValueType::kString, std::move(v)); }
GgufValue GgufValue::Array(GgufArray v) { return Make(GgufValueType::kArray, std::move(v)); }

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(data) || std::holds_alternative<int64_t>(data);
}

bool GgufValue::is_float() const { return std::holds_alternative<double>(data); }

int64_t GgufValue::AsInt() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    SHRINK_CHECK(*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
    return static_cast<int64_t>(*u);
  }
  return std::get<int64_t>(data);
}

uint64_t GgufValue::AsUint() const {
  if (const auto* i = std::get_if<int64_t>(&data)) {
    SHRINK_CHECK(*i >= 0);
    return static_cast<uint64_t>(*i);
  }
  return std::get<uint64_t>(data);
}

double GgufValue::AsFloat() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  return static_cast<double>(std::get<int64_t>(data));
}

}  // namespace shrink
