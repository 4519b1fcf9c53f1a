// Error and Result<T>: the monitor's one error convention.
//
// No exceptions on the call path (the shim runs inside arbitrary C programs), so every
// fallible operation returns Result<T>; CRYPTINE_TRY propagates an error upward.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cryptine {

enum class ErrorCode {
  kSystem,           // a system call failed; errno() says why
  kInvalidArgument,  // the caller passed something unusable
  kInvalidImage,     // a guest image failed validation
  kOutOfRange,       // a guest address/length outside guest memory or a window
  kGuestFault,       // the guest did something the ABI does not allow
  kTimeout,          // the watchdog stopped the guest
  kUnsupported,      // the host lacks a required KVM capability or CPU feature
  kGuestRefused,     // the guest's own code refused the request (no fault); detail() is its reason code
};

std::string_view error_code_name(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), message_(std::move(message)), errno_(sys_errno) {}

  // "KVM_RUN: Interrupted system call (errno 4)": names the call and errno.
  static Error from_errno(std::string_view call, int sys_errno = errno) {
    std::string msg(call);
    msg += ": ";
    msg += std::strerror(sys_errno);
    msg += " (errno " + std::to_string(sys_errno) + ")";
    return Error(ErrorCode::kSystem, std::move(msg), sys_errno);
  }

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int sys_errno() const { return errno_; }
  // Code-specific detail: the guest's reason for kGuestRefused (the crypto guest: OpenSSL's packed error code).
  uint64_t detail() const { return detail_; }
  Error& with_detail(uint64_t detail) {
    detail_ = detail;
    return *this;
  }

  // Prefixes context: "loading guest image: <message>".
  Error& context(std::string_view what) {
    message_ = std::string(what) + ": " + message_;
    return *this;
  }

 private:
  ErrorCode code_;
  std::string message_;
  int errno_;
  uint64_t detail_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{ErrorCode::kSystem, {}};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace cryptine

// Evaluates a Result; on error returns it from the enclosing function, else yields the
// value. A GNU statement expression, as in SerenityOS's TRY.
#define CRYPTINE_TRY(expr)                                                  \
  ({                                                                        \
    auto _cryptine_result = (expr);                                         \
    if (!_cryptine_result.ok()) return std::move(_cryptine_result).error(); \
    std::move(_cryptine_result).value();                                    \
  })

// For Status (Result<void>), which has no value to yield.
#define CRYPTINE_TRY_STATUS(expr)                                           \
  do {                                                                      \
    auto _cryptine_status = (expr);                                         \
    if (!_cryptine_status.ok()) return std::move(_cryptine_status).error(); \
  } while (0)
