// A bounded window over a ByteSource: the section-at-a-time readers ask for
// the next n bytes (want), look at them (view, cursor) and move past them
// (consume). Bytes before the read position are dropped when room is needed,
// so memory stays at the largest single lookahead asked for, never the
// stream's size; asking past the bound is an error the caller names. Over a
// contiguous source (memory) the window is the whole input and nothing is
// copied.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "statewire/byte_source.hpp"
#include "statewire/cursor.hpp"

namespace statewire::detail {

class StreamWindow {
 public:
  // Reads are asked in pieces of at least this much (fewer syscalls).
  static constexpr std::size_t kMinCapacity = 1u << 20;

  StreamWindow(ByteSource& src, std::size_t max_bytes) : src_(src), max_(max_bytes) {
    if (auto all = src.contiguous()) {
      view_ = all->data();
      end_ = all->size();
      eof_ = true;
      max_ = SIZE_MAX;  // nothing is copied: no bound to keep
    }
  }

  // At least n bytes from the read position are in view afterwards, or the
  // input ended first (then view() holds all that is left). More than the
  // bound: limit_exceeded.
  [[nodiscard]] Result<void> want(std::size_t n) {
    if (end_ - pos_ >= n || eof_) [[likely]]
      return {};
    return pull(n);
  }
  // Like want(), but stops quietly at the bound: true if n bytes are in view.
  [[nodiscard]] Result<bool> probe(std::size_t n) {
    if (end_ - pos_ >= n) return true;
    if (eof_) return false;
    SW_CHECK(pull(std::min(n, max_)));
    return end_ - pos_ >= n;
  }

  ByteSpan view() const noexcept { return {view_ + pos_, end_ - pos_}; }
  Cursor cursor() const noexcept { return Cursor(view(), offset()); }
  std::uint64_t offset() const noexcept { return base_ + pos_; }
  // The absolute offset one past the last byte in view.
  std::uint64_t visible_end() const noexcept { return base_ + end_; }
  void consume(std::size_t n) noexcept { pos_ += n; }
  // The input ended and everything left of it is in view.
  bool at_end() const noexcept { return eof_; }
  std::size_t bound() const noexcept { return max_; }
  // The most memory the window ever held (tests check the bound with it).
  std::size_t high_water() const noexcept { return buf_.size(); }

 private:
  Result<void> pull(std::size_t n) {
    if (n > max_)
      return fail(Errc::limit_exceeded,
                  fmt::format("needs {} bytes in view at once, more than the reader's bound of {}",
                              n, max_));
    if (pos_ && (buf_.size() - pos_ < n || pos_ > buf_.size() / 2)) {
      // Drop what was consumed: the unread tail moves to the front.
      const std::size_t tail = end_ - pos_;
      if (tail) std::memmove(buf_.data(), buf_.data() + pos_, tail);
      base_ += pos_;
      pos_ = 0;
      end_ = tail;
    }
    while (end_ - pos_ < n) {
      if (end_ == buf_.size()) {
        // Grown as the input arrives, not to n at once: a lookahead that
        // meets the end of the input early costs only what it read.
        buf_.resize(std::min(max_, std::max(2 * buf_.size(), kMinCapacity)));
      }
      view_ = buf_.data();
      SW_TRY(got, src_.read(std::span<std::uint8_t>(buf_.data() + end_, buf_.size() - end_)));
      if (got == 0) {
        eof_ = true;
        break;
      }
      end_ += got;
    }
    view_ = buf_.data();
    return {};
  }

  ByteSource& src_;
  std::size_t max_;
  Bytes buf_;
  const std::uint8_t* view_ = nullptr;
  std::size_t pos_ = 0, end_ = 0;  // into view_
  std::uint64_t base_ = 0;         // absolute offset of view_[0]
  bool eof_ = false;
};

}  // namespace statewire::detail
