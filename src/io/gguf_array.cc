// GgufArray: one typed buffer per array (gguf.h says why), built from and read as GgufValues.
#include <cstring>
#include <limits>
#include <type_traits>

#include "base/check.h"
#include "io/gguf.h"

namespace shrink {
namespace {

// The element type's C++ storage type, as a tag for the variant's emplace.
template <typename T>
struct Tag {
  using type = T;
};

template <typename F>
void WithStoredType(GgufValueType type, F&& f) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kBool:
      return f(Tag<uint8_t>{});
    case GgufValueType::kInt8:
      return f(Tag<int8_t>{});
    case GgufValueType::kUint16:
      return f(Tag<uint16_t>{});
    case GgufValueType::kInt16:
      return f(Tag<int16_t>{});
    case GgufValueType::kUint32:
      return f(Tag<uint32_t>{});
    case GgufValueType::kInt32:
      return f(Tag<int32_t>{});
    case GgufValueType::kUint64:
      return f(Tag<uint64_t>{});
    case GgufValueType::kInt64:
      return f(Tag<int64_t>{});
    case GgufValueType::kFloat32:
      return f(Tag<float>{});
    case GgufValueType::kFloat64:
      return f(Tag<double>{});
    case GgufValueType::kString:
      return f(Tag<std::string>{});
    case GgufValueType::kArray:
      return f(Tag<GgufArray>{});
  }
  SHRINK_CHECK(false && "unknown GGUF value type");
}

// Converts a value of the array's element type to its storage type; the error says why it cannot.
// (A GgufValue keeps numbers in the widest type of their kind, so a u8 value may hold 300.)
template <typename T>
Status Narrow(GgufValue& v, T* out) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, GgufArray>) {
    auto* x = std::get_if<T>(&v.data);
    if (x == nullptr) {
      return Status::Errorf("type {} holds a value of another kind", GgufValueTypeName(v.type));
    }
    *out = std::move(*x);
  } else if constexpr (std::is_floating_point_v<T>) {
    const auto* d = std::get_if<double>(&v.data);
    if (d == nullptr)
      return Status::Errorf("type {} holds a non-float value", GgufValueTypeName(v.type));
    *out = static_cast<T>(*d);
  } else if (v.type == GgufValueType::kBool) {
    const auto* b = std::get_if<bool>(&v.data);
    if (b == nullptr) return Status::Error("type bool holds a non-bool value");
    *out = *b ? 1 : 0;
  } else if constexpr (std::is_unsigned_v<T>) {
    const auto* u = std::get_if<uint64_t>(&v.data);
    if (u == nullptr) {
      return Status::Errorf("type {} holds a non-unsigned value", GgufValueTypeName(v.type));
    }
    if (*u > std::numeric_limits<T>::max()) {
      return Status::Errorf("value {} does not fit type {}", *u, GgufValueTypeName(v.type));
    }
    *out = static_cast<T>(*u);
  } else {
    const auto* i = std::get_if<int64_t>(&v.data);
    if (i == nullptr) {
      return Status::Errorf("type {} holds a non-signed value", GgufValueTypeName(v.type));
    }
    if (*i < std::numeric_limits<T>::min() || *i > std::numeric_limits<T>::max()) {
      return Status::Errorf("value {} does not fit type {}", *i, GgufValueTypeName(v.type));
    }
    *out = static_cast<T>(*i);
  }
  return Status::Ok();
}

}  // namespace

GgufArray::GgufArray(GgufValueType element_type) : element_type_(element_type) {
  WithStoredType(element_type,
                 [&](auto tag) { storage_.emplace<std::vector<typename decltype(tag)::type>>(); });
}

GgufArray::GgufArray(GgufValueType element_type, std::initializer_list<GgufValue> values)
    : GgufArray(element_type) {
  Reserve(values.size());
  for (const GgufValue& v : values) Push(v);
}

Result<GgufArray> GgufArray::FromValues(GgufValueType element_type,
                                        std::span<const GgufValue> values) {
  GgufArray a(element_type);
  a.Reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].type != element_type) {
      return Status::Errorf("array element {} has type {}, expected the array's element type {}", i,
                            GgufValueTypeName(values[i].type), GgufValueTypeName(element_type));
    }
    if (Status s = a.TryPush(values[i]); !s.ok()) {
      return s.WithContext(fmt::format("array element {}", i));
    }
  }
  return a;
}

void GgufArray::CheckStoredType(bool ok) { SHRINK_CHECK(ok && "GgufArray: not the stored type"); }

size_t GgufArray::size() const {
  return std::visit([](const auto& v) { return v.size(); }, storage_);
}

void GgufArray::Reserve(size_t n) {
  std::visit([n](auto& v) { v.reserve(n); }, storage_);
}

Status GgufArray::TryPush(GgufValue value) {
  if (value.type != element_type_) {
    return Status::Errorf("value of type {} in an array of {}", GgufValueTypeName(value.type),
                          GgufValueTypeName(element_type_));
  }
  return std::visit(
      [&](auto& v) {
        typename std::decay_t<decltype(v)>::value_type x{};
        SHRINK_RETURN_IF_ERROR(Narrow(value, &x));
        v.push_back(std::move(x));
        return Status::Ok();
      },
      storage_);
}

void GgufArray::Push(GgufValue value) {
  const Status s = TryPush(std::move(value));
  SHRINK_CHECK(s.ok());
}

GgufValue GgufArray::At(size_t i) const {
  SHRINK_CHECK(i < size());
  GgufValue out;
  out.type = element_type_;
  std::visit(
      [&](const auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_same_v<T, uint8_t>) {
          // u8 and bool share the byte buffer.
          if (element_type_ == GgufValueType::kBool) {
            out.data = v[i] != 0;
          } else {
            out.data = uint64_t{v[i]};
          }
        } else if constexpr (std::is_floating_point_v<T>) {
          out.data = static_cast<double>(v[i]);
        } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
          out.data = static_cast<uint64_t>(v[i]);
        } else if constexpr (std::is_integral_v<T>) {
          out.data = static_cast<int64_t>(v[i]);
        } else {
          out.data = v[i];  // a string or a nested array, copied
        }
      },
      storage_);
  return out;
}

int64_t GgufArray::IntAt(size_t i) const {
  SHRINK_CHECK(i < size() && element_type_ != GgufValueType::kBool);
  return std::visit(
      [&](const auto& v) -> int64_t {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_integral_v<T>) {
          if constexpr (std::is_same_v<T, uint64_t>) {
            SHRINK_CHECK(v[i] <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
          }
          return static_cast<int64_t>(v[i]);
        } else {
          CheckStoredType(false);
          return 0;
        }
      },
      storage_);
}

uint64_t GgufArray::UintAt(size_t i) const {
  SHRINK_CHECK(i < size() && element_type_ != GgufValueType::kBool);
  return std::visit(
      [&](const auto& v) -> uint64_t {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_integral_v<T>) {
          if constexpr (std::is_signed_v<T>) SHRINK_CHECK(v[i] >= 0);
          return static_cast<uint64_t>(v[i]);
        } else {
          CheckStoredType(false);
          return 0;
        }
      },
      storage_);
}

double GgufArray::FloatAt(size_t i) const {
  SHRINK_CHECK(i < size() && element_type_ != GgufValueType::kBool);
  return std::visit(
      [&](const auto& v) -> double {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_arithmetic_v<T>) {
          return static_cast<double>(v[i]);
        } else {
          CheckStoredType(false);
          return 0;
        }
      },
      storage_);
}

bool GgufArray::BoolAt(size_t i) const {
  SHRINK_CHECK(element_type_ == GgufValueType::kBool && i < size());
  return std::get<std::vector<uint8_t>>(storage_)[i] != 0;
}

const std::string& GgufArray::StringAt(size_t i) const {
  const auto& v = std::get<std::vector<std::string>>(storage_);
  SHRINK_CHECK(i < v.size());
  return v[i];
}

const GgufArray& GgufArray::ArrayAt(size_t i) const {
  const auto& v = std::get<std::vector<GgufArray>>(storage_);
  SHRINK_CHECK(i < v.size());
  return v[i];
}

std::span<const uint8_t> GgufArray::scalar_bytes() const {
  return std::visit(
      [](const auto& v) -> std::span<const uint8_t> {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_arithmetic_v<T>) {
          return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
        } else {
          return {};
        }
      },
      storage_);
}

void GgufArray::AppendStored(std::span<const uint8_t> bytes) {
  if (element_type_ == GgufValueType::kBool) {
    for (uint8_t b : bytes) SHRINK_CHECK(b <= 1);
  }
  std::visit(
      [&](auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_arithmetic_v<T>) {
          SHRINK_CHECK(bytes.size() % sizeof(T) == 0);
          const size_t at = v.size();
          v.resize(at + bytes.size() / sizeof(T));
          if (!bytes.empty()) std::memcpy(v.data() + at, bytes.data(), bytes.size());
        } else {
          CheckStoredType(false);
        }
      },
      storage_);
}

}  // namespace shrink
