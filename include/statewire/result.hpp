// statewire/result.hpp — Result<T> and the SW_TRY propagation macro.
//
// Result<T> is tl::expected<T, ...> (std::expected is not in GCC 12) whose
// error is an Error kept on the heap: a Result is T plus one pointer, so a
// success never moves or clears the ~100 bytes of an Error's strings, and the
// allocation happens only on failure (docs/errors.md has the measurements).
// error() still hands out an Error&. Use SW_TRY(var, expr) to unwrap or
// return early, SW_CHECK(expr) for Result<void>.
#pragma once

#include <tl/expected.hpp>

#include <memory>
#include <utility>

#include "statewire/error.hpp"

namespace statewire {

namespace detail {

// One Error on the heap, allocated when a failure is made. Copying a Result
// that failed copies its Error.
class ErrorBox {
 public:
  ErrorBox(Error e) : p_(std::make_unique<Error>(std::move(e))) {}  // NOLINT: implicit by design
  ErrorBox(const ErrorBox& o) : p_(o.p_ ? std::make_unique<Error>(*o.p_) : nullptr) {}
  ErrorBox(ErrorBox&&) noexcept = default;
  // Out of line (error.cpp): inlined into every Result's destructor, GCC 12
  // cannot tell the pointer came from new and warns (-Wfree-nonheap-object).
  // They run only for a Result that failed.
  ErrorBox& operator=(const ErrorBox& o);
  ErrorBox& operator=(ErrorBox&& o) noexcept;
  ~ErrorBox();

  Error& get() noexcept { return *p_; }
  const Error& get() const noexcept { return *p_; }

 private:
  std::unique_ptr<Error> p_;
};

}  // namespace detail

using Unexpected = tl::unexpected<Error>;

template <class T>
class Result : public tl::expected<T, detail::ErrorBox> {
  using Base = tl::expected<T, detail::ErrorBox>;

 public:
  using Base::Base;
  using Base::operator=;
  Result() = default;
  Result(const Result&) = default;
  Result(Result&&) = default;
  Result& operator=(const Result&) = default;
  Result& operator=(Result&&) = default;
  // A boxed error travels on without a new allocation (SW_TRY).
  Result(tl::unexpected<detail::ErrorBox>&& e) : Base(std::move(e)) {}  // NOLINT: implicit
  Result& operator=(Unexpected&& e) {
    Base::operator=(tl::unexpected<detail::ErrorBox>(detail::ErrorBox(std::move(e.value()))));
    return *this;
  }

  Error& error() & { return Base::error().get(); }
  const Error& error() const& { return Base::error().get(); }
  Error&& error() && { return std::move(Base::error().get()); }
  const Error&& error() const&& { return std::move(Base::error().get()); }

  // The boxed error, moved out without copying the Error (SW_TRY, SW_CHECK).
  tl::unexpected<detail::ErrorBox> take_error() && {
    return tl::unexpected<detail::ErrorBox>(std::move(Base::error()));
  }
};

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
  if (!tmp) return std::move(tmp).take_error();                             \
  auto var = std::move(*tmp)

// Returns the error of a Result<void> (or any Result whose value is unused).
#define SW_CHECK(expr)                                             \
  do {                                                             \
    auto sw_check_r_ = (expr);                                     \
    if (!sw_check_r_) return std::move(sw_check_r_).take_error();  \
  } while (0)
