// statewire/result.hpp — Result<T> and the SW_TRY propagation macro.
//
// Result<T> is tl::expected<T, Error> (std::expected is not in GCC 12). Use
// SW_TRY(var, expr) to unwrap or return early, SW_CHECK(expr) for Result<void>.
#pragma once

#include <tl/expected.hpp>

#include "statewire/error.hpp"

namespace statewire {

template <class T>
using Result = tl::expected<T, Error>;

using Unexpected = tl::unexpected<Error>;

inline Unexpected fail(Error e) { return Unexpected(std::move(e)); }
inline Unexpected fail(Errc code, std::string message) {
  return Unexpected(make_error(code, std::move(message)));
}

}  // namespace statewire

#define SW_CONCAT_INNER(a, b) a##b
#define SW_CONCAT(a, b) SW_CONCAT_INNER(a, b)

// Unwraps a Result into `var`, or returns its error from the enclosing function.
#define SW_TRY(var, expr) SW_TRY_IMPL(var, expr, SW_CONCAT(sw_try_, __COUNTER__))
#define SW_TRY_IMPL(var, expr, tmp)                                         \
  auto tmp = (expr);                                                        \
  if (!tmp) return ::statewire::Unexpected(std::move(tmp.error()));         \
  auto var = std::move(*tmp)

// Returns the error of a Result<void> (or any Result whose value is unused).
#define SW_CHECK(expr)                                             \
  do {                                                             \
    auto sw_check_r_ = (expr);                                     \
    if (!sw_check_r_)                                              \
      return ::statewire::Unexpected(std::move(sw_check_r_.error())); \
  } while (0)
