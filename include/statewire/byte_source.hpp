// statewire/byte_source.hpp — where the section-at-a-time codecs read and write bytes.
//
// A ByteSource is pulled from: read() hands over whatever is available (a
// pipe gives 64 KiB at a time, a socket less) and 0 only at the end. Readers
// keep their own bounded window over it (at most a few records), so a stream
// of any size is decoded in constant memory. A source over memory can also
// show all of its bytes at once (contiguous()), which readers use to avoid
// copying; a regular file can say its size and be read at an offset, which the
// QEMU reader uses to find the description trailer at the end before it starts.
// A ByteSink is pushed to, one record at a time.
//
// This header knows no format; it holds the interfaces and the plain
// implementations (memory, file descriptor).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"

namespace statewire {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to dst.size() bytes into dst; 0 means the input ended.
  [[nodiscard]] virtual Result<std::size_t> read(std::span<std::uint8_t> dst) = 0;
  // Every byte of the input, when it already sits in memory.
  virtual std::optional<ByteSpan> contiguous() const { return std::nullopt; }
  // The input's total size, when known before reading it (a regular file).
  virtual std::optional<std::uint64_t> size() const { return std::nullopt; }
  // Reads at an absolute offset without moving the read position; only
  // sources with a size() support it.
  [[nodiscard]] virtual Result<std::size_t> read_at(std::uint64_t offset,
                                                    std::span<std::uint8_t> dst);
};

// The bytes of a buffer the caller keeps alive.
class SpanSource final : public ByteSource {
 public:
  explicit SpanSource(ByteSpan bytes) : bytes_(bytes) {}
  [[nodiscard]] Result<std::size_t> read(std::span<std::uint8_t> dst) override;
  std::optional<ByteSpan> contiguous() const override { return bytes_; }
  std::optional<std::uint64_t> size() const override { return bytes_.size(); }
  [[nodiscard]] Result<std::size_t> read_at(std::uint64_t offset,
                                            std::span<std::uint8_t> dst) override;

 private:
  ByteSpan bytes_;
  std::size_t pos_ = 0;
};

// A file descriptor the caller owns: a pipe, a socket, a terminal or a file.
// A regular file reports its size (from fstat at construction) and supports
// read_at through pread.
class FdSource final : public ByteSource {
 public:
  explicit FdSource(int fd);
  [[nodiscard]] Result<std::size_t> read(std::span<std::uint8_t> dst) override;
  std::optional<std::uint64_t> size() const override { return size_; }
  [[nodiscard]] Result<std::size_t> read_at(std::uint64_t offset,
                                            std::span<std::uint8_t> dst) override;

 private:
  int fd_;
  std::optional<std::uint64_t> size_;
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  [[nodiscard]] virtual Result<void> write(ByteSpan bytes) = 0;
};

// Appends to a byte vector (the whole-buffer encoders write through this).
class BytesSink final : public ByteSink {
 public:
  [[nodiscard]] Result<void> write(ByteSpan bytes) override {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
    return {};
  }
  Bytes& bytes() noexcept { return out_; }
  Bytes take() && { return std::move(out_); }

 private:
  Bytes out_;
};

// Writes to a file descriptor the caller owns, retrying short writes.
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  [[nodiscard]] Result<void> write(ByteSpan bytes) override;

 private:
  int fd_;
};

}  // namespace statewire
