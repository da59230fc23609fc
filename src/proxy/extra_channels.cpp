#include "proxy/extra_channels.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <vector>

namespace statewire {

ExtraChannels::ExtraChannels(const ProxyOptions& opt, std::atomic<bool>& stopping,
                             std::function<void()> on_failure)
    : opt_(opt), stopping_(stopping), on_failure_(std::move(on_failure)) {}

ExtraChannels::~ExtraChannels() { finish(false); }

void ExtraChannels::start() {
  if (!opt_.more_sources || !opt_.connect_destination) return;
  acceptor_ = std::thread([this] { accept_loop(); });
}

std::string ExtraChannels::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void ExtraChannels::failed(std::string why) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) {
      error_ = std::move(why);
      first = true;
    }
  }
  if (first && on_failure_) on_failure_();
}

void ExtraChannels::accept_loop() {
  while (!done_.load() && !stopping_.load()) {
    // Short waits, so the end of the migration is noticed soon.
    auto c = opt_.more_sources->accept(std::chrono::milliseconds(100));
    if (!c) continue;
    if (done_.load() || stopping_.load()) return;
    const std::uint32_t index = count_.load() + 1;
    // The destination's connection for it, after the main one (and after
    // the previous extra ones: QEMU numbers multifd channels in its packets,
    // not by order, but the main channel must come first).
    auto d = opt_.connect_destination();
    if (!d) {
      failed(fmt::format("multifd channel {}: cannot reach the destination: {}", index,
                         d.error().to_string()));
      c->abort();
      return;
    }
    if (opt_.socket_buffer > 0) {
      // As on the main channel: few bytes in flight beyond a direct migration's.
      const int b = opt_.socket_buffer;
      (void)::setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &b, sizeof b);
      (void)::setsockopt(d->fd(), SOL_SOCKET, SO_SNDBUF, &b, sizeof b);
    }
    std::lock_guard<std::mutex> lock(mu_);
    Pair& p = pairs_.emplace_back();
    p.src = std::move(*c);
    p.dst = std::move(*d);
    p.dst.set_timeout(opt_.idle_timeout);
    ++count_;
    p.pump = std::thread([this, &p, index] { pump(p, index); });
  }
}

void ExtraChannels::pump(Pair& p, std::uint32_t index) {
  std::vector<std::uint8_t> buf(256 * 1024);
  for (;;) {
    // Poll in short steps: the channel may rightly be idle while the main
    // channel carries the device state.
    pollfd pfd{p.src.fd(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 100);
    if (stopping_.load() || (done_.load() && ready == 0)) break;
    if (ready == 0) continue;
    auto n = p.src.read(buf);
    if (!n) {
      if (!stopping_.load() && !done_.load())
        failed(fmt::format("multifd channel {} from the source: {}", index, n.error().to_string()));
      break;
    }
    if (*n == 0) {
      (void)p.dst.shutdown_write();  // the source is done with it
      break;
    }
    in_ += *n;
    if (auto w = p.dst.write(ByteSpan(buf.data(), *n)); !w) {
      if (!stopping_.load() && !done_.load())
        failed(fmt::format("multifd channel {} to the destination: {}", index, w.error().to_string()));
      break;
    }
    out_ += *n;
    bytes_ += *n;
  }
  p.ended = true;
}

void ExtraChannels::finish(bool main_ok) {
  if (main_ok) {
    // The source closes its multifd channels once its migration ends.
    const auto until = std::chrono::steady_clock::now() +
                       (opt_.idle_timeout == kNoTimeout ? std::chrono::milliseconds(60000)
                                                        : opt_.idle_timeout);
    for (;;) {
      bool all = true;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& p : pairs_) all = all && p.ended.load();
      }
      if (all || std::chrono::steady_clock::now() > until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  done_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  // No pair is added any more: the pumps are joined without the lock, which
  // they take to report a failure.
  for (auto& p : pairs_) {
    if (!p.ended.load()) {
      p.src.abort();
      p.dst.abort();
    }
    if (p.pump.joinable()) p.pump.join();
    p.src.close();
    p.dst.close();
  }
}

}  // namespace statewire
