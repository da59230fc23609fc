// statewire/channel.hpp — byte channels between migration peers: TCP, unix
// sockets, file descriptors, files and standard input/output.
//
// A migration is one long bulk stream per channel plus a few small messages
// (handshake, acknowledgement), so a channel is a blocking file descriptor
// driven by one thread, with poll() only to bound each wait. That is what a
// socket does best and needs no event loop or extra dependency; parallel
// channels are parallel threads. A Channel is a ByteSource and a ByteSink, so
// the section-at-a-time readers and writers run on it directly.
//
// Addresses are written as QEMU writes them: "tcp:HOST:PORT" (IPv6 hosts in
// brackets), "unix:PATH", "fd:N", "file:PATH", and "-" or "stdio" for standard
// input (receiving) and standard output (sending).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "statewire/byte_source.hpp"
#include "statewire/result.hpp"

namespace statewire {

using Timeout = std::chrono::milliseconds;
// "No limit" for a wait; tests and tools should always pass a real bound.
inline constexpr Timeout kNoTimeout{0};

struct Endpoint {
  enum class Kind : std::uint8_t { tcp, unix_socket, fd, file, stdio };
  Kind kind = Kind::stdio;
  std::string host;        // tcp: a name or address; "" listens on every address
  std::uint16_t port = 0;  // tcp: 0 asks the system for a free port when listening
  std::string path;        // unix socket or file
  int fd = -1;             // fd

  std::string to_string() const;  // back to the text form
  bool is_socket() const { return kind == Kind::tcp || kind == Kind::unix_socket; }
};

// Parses an address; the error says what form was expected.
[[nodiscard]] Result<Endpoint> parse_endpoint(std::string_view text);

class Channel final : public ByteSource, public ByteSink {
 public:
  Channel() = default;  // closed
  // Takes a descriptor; `owned` descriptors are closed with the channel.
  // `peer` names the other end in messages ("tcp:127.0.0.1:4444").
  static Channel adopt(int fd, std::string peer, bool owned = true);
  Channel(Channel&& other) noexcept;
  Channel& operator=(Channel&& other) noexcept;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() override;

  // Whatever has arrived, up to dst.size(); 0 when the peer closed or
  // half-closed. An error when nothing arrived within the timeout.
  [[nodiscard]] Result<std::size_t> read(std::span<std::uint8_t> dst) override;
  // All of dst, or an error (the peer closing early is Errc::truncated).
  [[nodiscard]] Result<void> read_exact(std::span<std::uint8_t> dst);
  // All of bytes; a peer that went away is an io_error naming it, never SIGPIPE.
  [[nodiscard]] Result<void> write(ByteSpan bytes) override;
  // All of the parts in order in as few system calls as the kernel allows
  // (sendmsg/writev): bulk memory goes out as a record header plus its pages
  // straight from the program's memory, one call per batch, no copy.
  [[nodiscard]] Result<void> write_vectored(std::span<const ByteSpan> parts);
  // Fills every part in order (readv), so pages land where they belong
  // without a bounce buffer; Errc::truncated when the peer closes first.
  [[nodiscard]] Result<void> read_exact_vectored(std::span<const std::span<std::uint8_t>> parts);

  // Bounds every later wait for input or for room to write; kNoTimeout waits forever.
  void set_timeout(Timeout timeout) { timeout_ = timeout; }
  Timeout timeout() const { return timeout_; }

  // Tells the peer no more bytes follow (its reads return 0), keeping the
  // read side open for its answer. Sockets only; other kinds are closed.
  [[nodiscard]] Result<void> shutdown_write();
  // Makes blocked and later reads and writes fail at once, from any thread
  // (cancel, fault injection). The descriptor stays valid until close().
  void abort() noexcept;
  void close() noexcept;

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  Result<void> wait_for(short events, const char* what);

  int fd_ = -1;
  bool owned_ = false;
  bool socket_ = false;
  std::string peer_;
  Timeout timeout_ = kNoTimeout;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
};

// A listening TCP or unix socket. A unix socket file it created is removed
// when the listener goes away.
class Listener {
 public:
  [[nodiscard]] static Result<Listener> open(const Endpoint& where);
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // The next peer, or an error when none came within the timeout.
  [[nodiscard]] Result<Channel> accept(Timeout timeout);
  // Where peers connect: for "tcp:HOST:0" this carries the port chosen.
  const Endpoint& local() const { return local_; }

 private:
  Listener() = default;
  void release() noexcept;

  int fd_ = -1;
  Endpoint local_;
  bool unlink_path_ = false;
};

// Connects to a listening TCP or unix socket, waiting at most `timeout` for
// the connection (a refused connection fails at once).
[[nodiscard]] Result<Channel> connect(const Endpoint& where, Timeout timeout);

// One channel for one direction of a migration, whatever the address kind:
// sending connects (tcp/unix), creates the file, or uses the descriptor or
// standard output; receiving listens and accepts one peer, opens the file, or
// uses the descriptor or standard input.
enum class Direction : std::uint8_t { send, receive };
[[nodiscard]] Result<Channel> open_channel(const Endpoint& where, Direction direction,
                                           Timeout timeout);

}  // namespace statewire
