// Overflow-checked integer arithmetic for sizes computed from untrusted numbers (file header
// fields, flags). A size that wraps around can equal a real file's size and turn a malformed file
// into reads past the end of a mapping, so every such size is computed with these and an overflow
// is reported as an error, never wrapped (unsigned) or left undefined (signed).
#pragma once

#include <concepts>
#include <initializer_list>
#include <optional>

namespace shrink {

// a + b, or nullopt when the exact sum does not fit in T.
template <std::integral T>
std::optional<T> CheckedAdd(T a, T b) {
  T sum;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

// a · b, or nullopt when the exact product does not fit in T.
template <std::integral T>
std::optional<T> CheckedMul(T a, T b) {
  T product;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// The product of all factors (1 for none), or nullopt when any partial product does not fit in T.
// For non-negative factors that is exactly when the whole product does not fit.
template <std::integral T>
std::optional<T> CheckedProduct(std::initializer_list<T> factors) {
  std::optional<T> product = T{1};
  for (T f : factors) {
    product = CheckedMul(*product, f);
    if (!product) return std::nullopt;
  }
  return product;
}

}  // namespace shrink
