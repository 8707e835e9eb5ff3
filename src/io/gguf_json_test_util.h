// Test helper: GGUF metadata values as JSON, in the schema of tests/oracles/gguf_py_oracle.py
// ({"key", "type", "value"}; arrays {"element_type", "elements"}), to compare with gguf-py's view.
#pragma once

#include <nlohmann/json.hpp>

#include "io/gguf.h"

namespace shrink::testing {

inline nlohmann::json ValueToJson(const GgufValue& v) {
  if (v.type == GgufValueType::kArray) {
    nlohmann::json elements = nlohmann::json::array();
    const GgufArray& a = v.AsArray();
    for (size_t i = 0; i < a.size(); ++i) elements.push_back(ValueToJson(a.At(i)));
    return {{"element_type", GgufValueTypeName(a.element_type())}, {"elements", elements}};
  }
  if (const auto* u = std::get_if<uint64_t>(&v.data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.data)) return *i;
  if (const auto* d = std::get_if<double>(&v.data)) return *d;
  if (const auto* b = std::get_if<bool>(&v.data)) return *b;
  return v.AsString();
}

inline nlohmann::json MetadataToJson(std::span<const std::pair<std::string, GgufValue>> metadata) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [key, value] : metadata) {
    out.push_back(
        {{"key", key}, {"type", GgufValueTypeName(value.type)}, {"value", ValueToJson(value)}});
  }
  return out;
}

inline std::string Hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

}  // namespace shrink::testing
