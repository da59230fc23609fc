// Channel: a blocking descriptor whose every wait is bounded by poll().
#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "statewire/channel.hpp"

namespace statewire {

Channel Channel::adopt(int fd, std::string peer, bool owned) {
  Channel c;
  c.fd_ = fd;
  c.owned_ = owned;
  c.peer_ = std::move(peer);
  struct stat st {};
  c.socket_ = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  return c;
}

Channel::Channel(Channel&& other) noexcept { *this = std::move(other); }

Channel& Channel::operator=(Channel&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    owned_ = std::exchange(other.owned_, false);
    socket_ = other.socket_;
    peer_ = std::move(other.peer_);
    timeout_ = other.timeout_;
    bytes_read_ = std::exchange(other.bytes_read_, 0);
    bytes_written_ = std::exchange(other.bytes_written_, 0);
  }
  return *this;
}

Channel::~Channel() { close(); }

void Channel::close() noexcept {
  if (fd_ >= 0 && owned_) ::close(fd_);
  fd_ = -1;
}

void Channel::abort() noexcept {
  // shutdown() wakes a thread blocked in poll/read/write on a socket; other
  // descriptors have nothing like it, so their waits end by their timeout.
  if (fd_ >= 0 && socket_) ::shutdown(fd_, SHUT_RDWR);
}

Result<void> Channel::wait_for(short events, const char* what) {
  if (fd_ < 0) return fail(Errc::io_error, fmt::format("{}: the channel is closed", peer_));
  if (timeout_ == kNoTimeout) return {};
  pollfd p{fd_, events, 0};
  while (true) {
    const int n = ::poll(&p, 1, static_cast<int>(timeout_.count()));
    if (n > 0) return {};  // ready, or an error/hangup the next call reports
    if (n == 0)
      return fail(Errc::io_error, fmt::format("{}: nothing {} within {} ms", peer_, what,
                                              timeout_.count()));
    if (errno != EINTR)
      return fail(Errc::io_error, fmt::format("{}: poll failed: {}", peer_, std::strerror(errno)));
  }
}

Result<std::size_t> Channel::read(std::span<std::uint8_t> dst) {
  if (dst.empty()) return std::size_t{0};
  SW_CHECK(wait_for(POLLIN, "arrived"));
  while (true) {
    const ssize_t n = ::read(fd_, dst.data(), dst.size());
    if (n >= 0) {
      bytes_read_ += static_cast<std::uint64_t>(n);
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) continue;
    return fail(Errc::io_error, fmt::format("{}: read failed after {} bytes: {}", peer_,
                                            bytes_read_, std::strerror(errno)));
  }
}

Result<void> Channel::read_exact(std::span<std::uint8_t> dst) {
  std::size_t done = 0;
  while (done < dst.size()) {
    SW_TRY(n, read(dst.subspan(done)));
    if (n == 0)
      return fail(Errc::truncated, fmt::format("{}: the peer closed the channel after {} bytes "
                                               "({} of {} expected bytes arrived)",
                                               peer_, bytes_read_, done, dst.size()));
    done += n;
  }
  return {};
}

Result<void> Channel::write(ByteSpan bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    SW_CHECK(wait_for(POLLOUT, "could be sent"));
    // send() with MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE.
    const ssize_t n = socket_ ? ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL)
                              : ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return fail(Errc::io_error, fmt::format("{}: write failed after {} bytes: {}", peer_,
                                              bytes_written_, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
    bytes_written_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

Result<void> Channel::shutdown_write() {
  if (fd_ < 0) return {};
  if (!socket_) {
    close();
    return {};
  }
  if (::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN)
    return fail(Errc::io_error, fmt::format("{}: shutdown failed: {}", peer_, std::strerror(errno)));
  return {};
}

}  // namespace statewire
