#include "proxy/return_path.hpp"

#include <poll.h>

#include <chrono>

#include <fmt/format.h>

namespace statewire {

namespace {
// migration/migration.h: enum mig_rp_message_type.
constexpr std::uint16_t kRpShut = 1;
constexpr std::uint16_t kRpMax = 7;
}  // namespace

void ReturnPath::parse(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    msg_[have_++] = p[i];
    if (have_ < 4) continue;
    const std::uint16_t type = static_cast<std::uint16_t>((msg_[0] << 8) | msg_[1]);
    const std::size_t len = static_cast<std::size_t>((msg_[2] << 8) | msg_[3]);
    if (type == 0 || type >= kRpMax) {
      // Not a message QEMU 7.2 sends: keep forwarding, stop interpreting.
      if (out_.error.empty())
        out_.error = fmt::format("unexpected return-path message type {} from the destination", type);
      have_ = 0;
      return;
    }
    if (have_ < 4 + len) continue;
    if (type == kRpShut && len == 4) {
      out_.shut_at = std::chrono::steady_clock::now();
      out_.shut = (std::uint32_t(msg_[4]) << 24) | (std::uint32_t(msg_[5]) << 16) |
                  (std::uint32_t(msg_[6]) << 8) | msg_[7];
    }
    have_ = 0;
  }
}

void ReturnPath::run() {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> done_at;
  std::uint8_t buf[65536];
  for (;;) {
    // Poll in short steps: before the stream has gone out the destination
    // may rightly say nothing for as long as the migration lasts.
    pollfd pfd{dst_.fd(), POLLIN, 0};
    const int ready = dst_.fd() < 0 ? -1 : ::poll(&pfd, 1, 100);
    // A pipe is not woken by abort(): the flag ends the wait.
    if (stopping_.load()) return;
    if (ready == 0) {
      if (!done_.load()) continue;
      if (out_.shut) return;  // answered; the stream is complete
      if (!done_at) done_at = Clock::now();
      if (answer_timeout_ != kNoTimeout && Clock::now() - *done_at > answer_timeout_) {
        out_.error = fmt::format("the destination neither answered nor closed within {} ms after "
                                 "the whole stream", answer_timeout_.count());
        src_.abort();
        return;
      }
      continue;
    }
    auto n = dst_.read(buf);
    if (stopping_.load()) return;
    if (!n || *n == 0) {
      // The destination closed (or the proxy aborted the channels).
      if (out_.shut) return;
      // Without a return path the destination never writes, and may close
      // its write side early: that says nothing about the load. A reset
      // does (it went away), and so does a close on an opened return path.
      if (!opened_.load() && (n || done_.load())) return;
      if (!n && !done_.load() && out_.error.empty())
        out_.error = "the destination went away: " + n.error().to_string();
      if (out_.error.empty())
        out_.error = done_.load()
                         ? "the destination closed the connection without answering on the "
                           "return path (it did not load the state; its log says why)"
                         : fmt::format("the destination closed the connection after {} bytes "
                                       "(it refused the stream or went away; its log says why)",
                                       dst_.bytes_written());
      // The source must learn it: a closed connection fails its migration.
      src_.abort();
      return;
    }
    parse(buf, *n);
    bytes_ += *n;
    if (auto w = src_.write(ByteSpan(buf, *n)); !w) {
      if (out_.error.empty()) out_.error = "to the source: " + w.error().to_string();
      dst_.abort();
      return;
    }
  }
}

}  // namespace statewire
