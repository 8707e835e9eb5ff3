// Status and Result<T>: errors as values at boundaries (files, flags, user data).
//
// A Status is OK or carries one human-readable message. Each layer that passes an error up adds its own
// context in front, so the final message reads outside-in:
//   "reading model.gguf: tensor blk.3.ffn_up.weight: data at offset 123456 runs past end of file (98000000)"
// Broken internal invariants are not Statuses; they abort through SHRINK_CHECK (check.h).
#pragma once

#include <fmt/format.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shrink {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  template <typename... Args>
  static Status Errorf(fmt::format_string<Args...> format, Args&&... args) {
    return Status(fmt::format(format, std::forward<Args>(args)...));
  }

  bool ok() const { return !message_.has_value(); }
  // REQUIRES: !ok().
  const std::string& message() const { return *message_; }
  // "context: message" for an error; OK stays OK.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(fmt::format("{}: {}", context, *message_));
  }
  std::string ToString() const { return ok() ? "OK" : *message_; }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

// Holds a T or an error Status. Access to value() on an error aborts (an invariant, not user input).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) std::abort();                     // a Result built from OK must carry a value
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & {
    CheckOk();
    return *value_;
  }
  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Result WithContext(std::string_view context) && {
    if (ok()) return std::move(*this);
    return Result(status_.WithContext(context));
  }

 private:
  void CheckOk() const {
    if (!status_.ok()) {
      fmt::print(stderr, "fatal: value() on error Result: {}\n", status_.message());
      std::abort();
    }
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace shrink

#define SHRINK_STATUS_CONCAT_INNER(a, b) a##b
#define SHRINK_STATUS_CONCAT(a, b) SHRINK_STATUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is an error.
#define SHRINK_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::shrink::Status shrink_status_ = (expr);        \
    if (!shrink_status_.ok()) return shrink_status_; \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its error Status from the enclosing function.
#define SHRINK_ASSIGN_OR_RETURN(lhs, expr) \
  SHRINK_ASSIGN_OR_RETURN_IMPL(SHRINK_STATUS_CONCAT(shrink_result_, __LINE__), lhs, expr)
#define SHRINK_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                                 \
  if (!result.ok()) return result.status();             \
  lhs = std::move(result).value()
