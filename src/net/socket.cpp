// Listening, connecting and opening channels by address.
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <utility>

#include "statewire/channel.hpp"

namespace statewire {
namespace {

Unexpected os_error(const Endpoint& where, std::string_view what, int err = errno) {
  return fail(Errc::io_error,
              fmt::format("{}: {} failed: {}", where.to_string(), what, std::strerror(err)));
}

// A descriptor closed on every early return.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

Result<sockaddr_un> unix_address(const Endpoint& where) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (where.path.size() >= sizeof(a.sun_path))
    return fail(Errc::invalid_value, fmt::format("{}: a unix socket path holds at most {} bytes",
                                                 where.to_string(), sizeof(a.sun_path) - 1));
  std::memcpy(a.sun_path, where.path.c_str(), where.path.size() + 1);
  return a;
}

struct AddrInfoFree {
  void operator()(addrinfo* a) const { ::freeaddrinfo(a); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoFree>;

Result<AddrInfoPtr> resolve(const Endpoint& where, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(where.port);
  const int rc = ::getaddrinfo(where.host.empty() ? nullptr : where.host.c_str(), port.c_str(),
                               &hints, &list);
  if (rc != 0)
    return fail(Errc::io_error,
                fmt::format("{}: cannot resolve '{}': {}", where.to_string(), where.host,
                            ::gai_strerror(rc)));
  return AddrInfoPtr(list);
}

void tune_tcp(int fd) {
  // Handshake messages are small and answered at once: do not hold them back.
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Waits for a non-blocking connect() to finish, then makes the socket blocking.
Result<void> finish_connect(int fd, const Endpoint& where, Timeout timeout) {
  pollfd p{fd, POLLOUT, 0};
  const int wait_ms = timeout == kNoTimeout ? -1 : static_cast<int>(timeout.count());
  int n;
  do n = ::poll(&p, 1, wait_ms);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return fail(Errc::io_error, fmt::format("{}: no connection within {} ms", where.to_string(),
                                            timeout.count()));
  if (n < 0) return os_error(where, "poll");
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return os_error(where, "connect");
  if (err != 0) return os_error(where, "connect", err);
  const int flags = ::fcntl(fd, F_GETFL);
  (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return {};
}

Result<Channel> connect_one(const Endpoint& where, int family, const sockaddr* addr,
                            socklen_t len, Timeout timeout) {
  Fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.fd < 0) return os_error(where, "socket");
  if (::connect(fd.fd, addr, len) != 0 && errno != EINPROGRESS) return os_error(where, "connect");
  SW_CHECK(finish_connect(fd.fd, where, timeout));
  if (family != AF_UNIX) tune_tcp(fd.fd);
  Channel c = Channel::adopt(fd.release(), where.to_string());
  c.set_timeout(timeout);
  return c;
}

}  // namespace

Listener::Listener(Listener&& other) noexcept { *this = std::move(other); }

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    local_ = std::move(other.local_);
    unlink_path_ = std::exchange(other.unlink_path_, false);
  }
  return *this;
}

Listener::~Listener() { release(); }

void Listener::release() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (unlink_path_) ::unlink(local_.path.c_str());
  unlink_path_ = false;
}

Result<Listener> Listener::open(const Endpoint& where) {
  Listener l;
  l.local_ = where;
  if (where.kind == Endpoint::Kind::unix_socket) {
    SW_TRY(addr, unix_address(where));
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.fd < 0) return os_error(where, "socket");
    if (::bind(fd.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
      return os_error(where, "bind");
    l.unlink_path_ = true;
    l.fd_ = fd.release();
  } else if (where.kind == Endpoint::Kind::tcp) {
    SW_TRY(list, resolve(where, /*passive=*/true));
    int last_errno = 0;
    for (addrinfo* a = list.get(); a && l.fd_ < 0; a = a->ai_next) {
      Fd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (fd.fd < 0) continue;
      const int one = 1;
      (void)::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(fd.fd, a->ai_addr, a->ai_addrlen) != 0) {
        last_errno = errno;
        continue;
      }
      l.fd_ = fd.release();
    }
    if (l.fd_ < 0) return os_error(where, "bind", last_errno ? last_errno : EADDRNOTAVAIL);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(l.fd_, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
      l.local_.port = ntohs(bound.ss_family == AF_INET6
                                ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
  } else {
    return fail(Errc::invalid_value,
                fmt::format("{}: only tcp: and unix: addresses can listen", where.to_string()));
  }
  if (::listen(l.fd_, 16) != 0) return os_error(where, "listen");
  return l;
}

Result<Channel> Listener::accept(Timeout timeout) {
  pollfd p{fd_, POLLIN, 0};
  const int wait_ms = timeout == kNoTimeout ? -1 : static_cast<int>(timeout.count());
  int n;
  do n = ::poll(&p, 1, wait_ms);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return fail(Errc::io_error, fmt::format("{}: no peer connected within {} ms",
                                            local_.to_string(), timeout.count()));
  if (n < 0) return os_error(local_, "poll");
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  if (fd < 0) return os_error(local_, "accept");
  std::string name = local_.to_string();
  if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
    tune_tcp(fd);
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&peer), len, host, sizeof host, serv,
                      sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
      name = peer.ss_family == AF_INET6 ? fmt::format("tcp:[{}]:{}", host, serv)
                                        : fmt::format("tcp:{}:{}", host, serv);
  }
  Channel c = Channel::adopt(fd, std::move(name));
  c.set_timeout(timeout);
  return c;
}

Result<Channel> connect(const Endpoint& where, Timeout timeout) {
  if (where.kind == Endpoint::Kind::unix_socket) {
    SW_TRY(addr, unix_address(where));
    return connect_one(where, AF_UNIX, reinterpret_cast<const sockaddr*>(&addr), sizeof addr,
                       timeout);
  }
  if (where.kind != Endpoint::Kind::tcp)
    return fail(Errc::invalid_value,
                fmt::format("{}: only tcp: and unix: addresses can be connected to",
                            where.to_string()));
  SW_TRY(list, resolve(where, /*passive=*/false));
  Result<Channel> last = fail(Errc::io_error, where.to_string() + ": no address");
  for (addrinfo* a = list.get(); a; a = a->ai_next) {
    last = connect_one(where, a->ai_family, a->ai_addr, a->ai_addrlen, timeout);
    if (last) break;
  }
  return last;
}

Result<Channel> open_channel(const Endpoint& where, Direction direction, Timeout timeout) {
  const bool send = direction == Direction::send;
  switch (where.kind) {
    case Endpoint::Kind::tcp:
    case Endpoint::Kind::unix_socket: {
      if (send) return connect(where, timeout);
      SW_TRY(listener, Listener::open(where));
      return listener.accept(timeout);
    }
    case Endpoint::Kind::file: {
      const int flags = send ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC;
      const int fd = ::open(where.path.c_str(), flags, 0644);
      if (fd < 0) return os_error(where, send ? "create" : "open");
      Channel c = Channel::adopt(fd, where.to_string());
      c.set_timeout(timeout);
      return c;
    }
    case Endpoint::Kind::fd:
    case Endpoint::Kind::stdio: {
      const int fd = where.kind == Endpoint::Kind::fd ? where.fd : (send ? 1 : 0);
      if (::fcntl(fd, F_GETFD) < 0) return os_error(where, "using the descriptor");
      Channel c = Channel::adopt(fd, where.kind == Endpoint::Kind::fd
                                         ? where.to_string()
                                         : (send ? "standard output" : "standard input"),
                                 /*owned=*/false);
      c.set_timeout(timeout);
      return c;
    }
  }
  return fail(Errc::invalid_value, "unknown address kind");
}

}  // namespace statewire
