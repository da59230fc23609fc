#include "statewire/cursor.hpp"

#include <fmt/format.h>

namespace statewire {

Error Cursor::error_here(Errc code, std::string message) const {
  Error e = make_error(code, std::move(message));
  e.offset = offset();
  return e;
}

Unexpected Cursor::short_read(std::size_t need) const {
  return Unexpected(error_here(
      Errc::truncated, fmt::format("need {} bytes, {} left", need, remaining())));
}

Result<std::uint8_t> Cursor::peek(std::size_t n) const {
  if (remaining() <= n) return short_read(n + 1);
  return data_[pos_ + n];
}

Result<ByteSpan> Cursor::read_bytes(std::size_t n) {
  if (remaining() < n) return short_read(n);
  ByteSpan out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<Cursor> Cursor::sub(std::size_t n) {
  std::uint64_t start = offset();
  SW_TRY(span, read_bytes(n));
  return Cursor(span, start);
}

Result<std::string> Cursor::read_counted_string() {
  SW_TRY(len, read_u8());
  SW_TRY(span, read_bytes(len));
  return std::string(reinterpret_cast<const char*>(span.data()), span.size());
}

Result<void> Cursor::skip(std::size_t n) {
  SW_CHECK(read_bytes(n));
  return {};
}

}  // namespace statewire
