#include "statewire/limits.hpp"

#include <fmt/format.h>

#include "statewire/value.hpp"

namespace statewire {

std::uint64_t value_cost() noexcept { return sizeof(Value); }

std::uint64_t member_cost(std::size_t name_size) noexcept {
  // Short names live inside the string object (small-string optimisation).
  return sizeof(Member) + (name_size > 15 ? name_size + 1 : 0);
}

std::uint64_t Budget::allowance() const noexcept {
  const std::uint64_t per = limits_.memory_per_input_byte;
  // Saturating: a huge input cannot wrap the product.
  std::uint64_t a = per && input_ > ~std::uint64_t(0) / per ? ~std::uint64_t(0) : input_ * per;
  a = a > ~std::uint64_t(0) - limits_.memory_floor ? ~std::uint64_t(0) : a + limits_.memory_floor;
  if (limits_.memory_cap && a > limits_.memory_cap) a = limits_.memory_cap;
  return a;
}

Result<void> Budget::charge(std::uint64_t bytes, std::uint64_t offset, std::string_view what) {
  const std::uint64_t allow = allowance();
  if (bytes > allow || used_ > allow - bytes) {
    Error e = make_error(
        Errc::limit_exceeded,
        fmt::format("{} would take the decoded result to {} bytes, above the memory budget of {} "
                    "bytes for {} input bytes (docs/limits.md)",
                    what, bytes > ~std::uint64_t(0) - used_ ? ~std::uint64_t(0) : used_ + bytes,
                    allow, input_));
    e.offset = offset;
    return fail(std::move(e));
  }
  used_ += bytes;
  return {};
}

}  // namespace statewire
