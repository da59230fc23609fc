// Channel: gathered writes and scattered reads for bulk memory.
#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "statewire/channel.hpp"

namespace statewire {

namespace {

// IOV_MAX is 1024 on Linux; a batch never needs more than this many parts.
constexpr std::size_t kMaxParts = 1024;

// Moves the first iovec forward past `n` bytes already transferred.
void advance(iovec*& iov, int& count, std::size_t n) {
  while (count > 0 && n >= iov->iov_len) {
    n -= iov->iov_len;
    ++iov;
    --count;
  }
  if (count > 0 && n > 0) {
    iov->iov_base = static_cast<std::uint8_t*>(iov->iov_base) + n;
    iov->iov_len -= n;
  }
}

}  // namespace

Result<void> Channel::write_vectored(std::span<const ByteSpan> parts) {
  iovec vec[kMaxParts];
  while (!parts.empty()) {
    const std::size_t take = std::min(parts.size(), kMaxParts);
    int count = 0;
    for (std::size_t i = 0; i < take; ++i)
      if (!parts[i].empty())
        vec[count++] = {const_cast<std::uint8_t*>(parts[i].data()), parts[i].size()};
    parts = parts.subspan(take);
    iovec* iov = vec;
    while (count > 0) {
      SW_CHECK(wait_for(POLLOUT, "could be sent"));
      ssize_t n;
      if (socket_) {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<std::size_t>(count);
        n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      } else {
        n = ::writev(fd_, iov, count);
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return fail(Errc::io_error, fmt::format("{}: write failed after {} bytes: {}", peer_,
                                                bytes_written_, std::strerror(errno)));
      bytes_written_ += static_cast<std::uint64_t>(n);
      advance(iov, count, static_cast<std::size_t>(n));
    }
  }
  return {};
}

Result<void> Channel::read_exact_vectored(std::span<const std::span<std::uint8_t>> parts) {
  iovec vec[kMaxParts];
  while (!parts.empty()) {
    const std::size_t take = std::min(parts.size(), kMaxParts);
    int count = 0;
    std::size_t want = 0;
    for (std::size_t i = 0; i < take; ++i)
      if (!parts[i].empty()) {
        vec[count++] = {parts[i].data(), parts[i].size()};
        want += parts[i].size();
      }
    parts = parts.subspan(take);
    iovec* iov = vec;
    std::size_t done = 0;
    while (count > 0) {
      SW_CHECK(wait_for(POLLIN, "arrived"));
      const ssize_t n = ::readv(fd_, iov, count);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return fail(Errc::io_error, fmt::format("{}: read failed after {} bytes: {}", peer_,
                                                bytes_read_, std::strerror(errno)));
      if (n == 0)
        return fail(Errc::truncated, fmt::format("{}: the peer closed the channel after {} bytes "
                                                 "({} of {} expected bytes arrived)",
                                                 peer_, bytes_read_, done, want));
      bytes_read_ += static_cast<std::uint64_t>(n);
      done += static_cast<std::size_t>(n);
      advance(iov, count, static_cast<std::size_t>(n));
    }
  }
  return {};
}

}  // namespace statewire
