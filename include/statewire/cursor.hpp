// statewire/cursor.hpp — bounds-checked big-endian reading and writing.
//
// Every decoder reads untrusted bytes through a Cursor: each read checks what is
// left first and reports a `truncated` error naming the absolute offset. There is
// no other pointer arithmetic over input. ByteWriter is the matching appender.
// Neither knows anything about sections or fields; callers add that context.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/result.hpp"

namespace statewire {

using ByteSpan = std::span<const std::uint8_t>;
using Bytes = std::vector<std::uint8_t>;

namespace detail {
template <class T>
constexpr T from_be(T v) noexcept {
  // std::byteswap is C++23; GCC's builtins compile to one instruction.
  if constexpr (std::endian::native == std::endian::big || sizeof(T) == 1)
    return v;
  else if constexpr (sizeof(T) == 2)
    return static_cast<T>(__builtin_bswap16(static_cast<std::uint16_t>(v)));
  else if constexpr (sizeof(T) == 4)
    return static_cast<T>(__builtin_bswap32(static_cast<std::uint32_t>(v)));
  else
    return static_cast<T>(__builtin_bswap64(static_cast<std::uint64_t>(v)));
}
template <class T>
constexpr T from_le(T v) noexcept {
  if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
    return v;
  } else {
    static_assert(std::endian::native == std::endian::little, "big-endian hosts: add swaps");
    return v;
  }
}
}  // namespace detail

class Cursor {
 public:
  Cursor() = default;
  // `base` is the absolute offset of data[0] in the whole input, for messages.
  explicit Cursor(ByteSpan data, std::uint64_t base = 0) : data_(data), base_(base) {}

  std::size_t remaining() const noexcept { return data_.size() - pos_; }
  bool empty() const noexcept { return pos_ == data_.size(); }
  std::uint64_t offset() const noexcept { return base_ + pos_; }
  std::size_t position() const noexcept { return pos_; }

  // Peeks without consuming; error if fewer than n+1 bytes are left.
  [[nodiscard]] Result<std::uint8_t> peek(std::size_t n = 0) const;

  [[nodiscard]] Result<std::uint8_t> read_u8() { return read_be<std::uint8_t>(); }
  [[nodiscard]] Result<std::uint16_t> read_be16() { return read_be<std::uint16_t>(); }
  [[nodiscard]] Result<std::uint32_t> read_be32() { return read_be<std::uint32_t>(); }
  [[nodiscard]] Result<std::uint64_t> read_be64() { return read_be<std::uint64_t>(); }

  template <class T>
  [[nodiscard]] Result<T> read_be() {
    static_assert(std::is_integral_v<T>);
    if (remaining() < sizeof(T)) return short_read(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return detail::from_be(v);
  }

  template <class T>
  [[nodiscard]] Result<T> read_le() {
    static_assert(std::is_integral_v<T>);
    if (remaining() < sizeof(T)) return short_read(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return detail::from_le(v);
  }

  // The next n bytes as a view into the input (no copy).
  [[nodiscard]] Result<ByteSpan> read_bytes(std::size_t n);
  // The same for hot loops: the next n bytes, consumed, or nullptr (nothing
  // consumed) when fewer are left; the caller then reports via read_bytes().
  [[nodiscard]] const std::uint8_t* try_take(std::size_t n) noexcept {
    if (remaining() < n) return nullptr;
    const std::uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  // What is left, without consuming it.
  ByteSpan rest() const noexcept { return data_.subspan(pos_); }
  // A child cursor over the next n bytes; this cursor moves past them.
  [[nodiscard]] Result<Cursor> sub(std::size_t n);
  // u8 length + that many bytes, as QEMU writes id strings.
  [[nodiscard]] Result<std::string> read_counted_string();
  [[nodiscard]] Result<void> skip(std::size_t n);

  // An error of `code` located at the current offset.
  Error error_here(Errc code, std::string message) const;

 private:
  Unexpected short_read(std::size_t need) const;

  ByteSpan data_;
  std::size_t pos_ = 0;
  std::uint64_t base_ = 0;
};

// An append-only byte buffer. Its storage keeps its high-water size: after
// truncate() (a writer reused for the next section or round) later appends
// overwrite bytes already there instead of paying std::vector's zero-fill
// again, which for small bodies cost as much as writing them.
class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(Bytes&& reuse) : buf_(std::move(reuse)) { buf_.clear(); }

  void reserve(std::size_t n) { buf_.reserve(n); }
  std::size_t size() const noexcept { return size_; }

  void put_u8(std::uint8_t v) { *grow(1) = v; }
  template <class T>
  void put_be(T v) {
    static_assert(std::is_integral_v<T>);
    v = detail::from_be(v);
    std::uint8_t* p = grow(sizeof(T));
    std::memcpy(p, &v, sizeof(T));
  }
  template <class T>
  void put_le(T v) {
    static_assert(std::is_integral_v<T>);
    v = detail::from_le(v);
    std::memcpy(grow(sizeof(T)), &v, sizeof(T));
  }
  // Overwrites already written bytes (for lengths known only afterwards).
  template <class T>
  void patch_le(std::size_t at, T v) {
    v = detail::from_le(v);
    std::memcpy(buf_.data() + at, &v, sizeof(T));
  }
  void put_be16(std::uint16_t v) { put_be(v); }
  void put_be32(std::uint32_t v) { put_be(v); }
  void put_be64(std::uint64_t v) { put_be(v); }
  void put_bytes(ByteSpan b) {
    if (b.empty()) return;
    std::memcpy(grow(b.size()), b.data(), b.size());
  }
  void put_zeros(std::size_t n) {
    if (n) std::memset(grow(n), 0, n);
  }
  // u8 length + bytes; the caller guarantees s.size() <= 255.
  void put_counted_string(std::string_view s) {
    put_u8(static_cast<std::uint8_t>(s.size()));
    put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  }
  // Appends n bytes (unspecified until written) and returns where they are.
  std::uint8_t* grow(std::size_t n) {
    const std::size_t old = size_;
    if (buf_.size() - old < n) [[unlikely]] extend(n);
    size_ = old + n;
    return buf_.data() + old;
  }

  // Drops everything after the first n bytes (undoes a failed append).
  void truncate(std::size_t n) noexcept {
    if (n < size_) size_ = n;
  }

  // Inserts bytes at `at`, moving what follows (rare: for records whose
  // prerequisites are known only after they were written).
  void insert(std::size_t at, ByteSpan b) {
    buf_.resize(size_);
    buf_.insert(buf_.begin() + static_cast<long>(at), b.begin(), b.end());
    size_ = buf_.size();
  }

  ByteSpan bytes() const& noexcept { return {buf_.data(), size_}; }
  Bytes take() && {
    buf_.resize(size_);
    size_ = 0;
    return std::move(buf_);
  }

 private:
  // Room for n more bytes after size_: at least doubles, so a stream of
  // small appends costs amortised O(1).
  void extend(std::size_t n) {
    buf_.resize(size_);  // what lies past size_ need not be copied
    buf_.resize(std::max({size_ + n, 2 * size_, std::size_t{64}}));
  }

  Bytes buf_;
  std::size_t size_ = 0;
};

}  // namespace statewire
