#include "statewire/byte_source.hpp"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace statewire {

Result<std::size_t> ByteSource::read_at(std::uint64_t, std::span<std::uint8_t>) {
  return fail(Errc::unsupported, "this input cannot be read at an offset");
}

Result<std::size_t> SpanSource::read(std::span<std::uint8_t> dst) {
  const std::size_t n = std::min(dst.size(), bytes_.size() - pos_);
  if (n) std::memcpy(dst.data(), bytes_.data() + pos_, n);
  pos_ += n;
  return n;
}

Result<std::size_t> SpanSource::read_at(std::uint64_t offset, std::span<std::uint8_t> dst) {
  if (offset >= bytes_.size()) return std::size_t{0};
  const std::size_t n = std::min<std::uint64_t>(dst.size(), bytes_.size() - offset);
  std::memcpy(dst.data(), bytes_.data() + offset, n);
  return n;
}

FdSource::FdSource(int fd) : fd_(fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return;
  if (S_ISREG(st.st_mode)) size_ = static_cast<std::uint64_t>(st.st_size);
  // A pipe holds 64 KiB by default: the writer and this reader then take
  // turns 16 times per MiB. A larger pipe (where allowed) lets both run.
  if (S_ISFIFO(st.st_mode)) (void)::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

Result<std::size_t> FdSource::read(std::span<std::uint8_t> dst) {
  while (true) {
    const ssize_t n = ::read(fd_, dst.data(), dst.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    return fail(Errc::io_error, fmt::format("read failed: {}", std::strerror(errno)));
  }
}

Result<std::size_t> FdSource::read_at(std::uint64_t offset, std::span<std::uint8_t> dst) {
  if (!size_) return ByteSource::read_at(offset, dst);
  std::size_t done = 0;
  while (done < dst.size()) {
    const ssize_t n = ::pread(fd_, dst.data() + done, dst.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return fail(Errc::io_error, fmt::format("read at offset {:#x} failed: {}", offset + done,
                                              std::strerror(errno)));
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Result<void> FdSink::write(ByteSpan bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::io_error, fmt::format("write failed: {}", std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace statewire
