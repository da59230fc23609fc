// A proxy between a migration's source and destination that relays every
// connection (control and data channels) and kills them all once a given
// number of bytes (both directions, all connections) has passed: fault
// injection at any point of a migration, without touching either peer.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "statewire/channel.hpp"

namespace statewire::testing {

class FaultProxy {
 public:
  // Listens on `front`; relays each connection to `back`. kill_after 0:
  // never. flip_at (1-based, counted over every connection): the byte there
  // is inverted on its way through, the connection otherwise intact.
  FaultProxy(const Endpoint& front, Endpoint back, std::uint64_t kill_after,
             std::uint64_t flip_at = 0)
      : back_(std::move(back)), limit_(kill_after), flip_at_(flip_at) {
    auto l = Listener::open(front);
    if (l) listener_ = std::make_unique<Listener>(std::move(*l));
    if (listener_) acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FaultProxy() {
    stop_ = true;
    kill();
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard<std::mutex> g(mu_);
    for (auto& t : relays_) t.join();
  }
  bool ok() const { return listener_ != nullptr; }
  const Endpoint& address() const { return listener_->local(); }
  std::uint64_t bytes() const { return passed_.load(); }
  bool killed() const { return killed_.load(); }

 private:
  struct Pair {
    Channel a, b;
  };

  void kill() {
    killed_ = true;
    std::lock_guard<std::mutex> g(mu_);
    for (auto& p : pairs_) {
      p->a.abort();
      p->b.abort();
    }
  }

  void accept_loop() {
    while (!stop_) {
      auto in = listener_->accept(Timeout(50));
      if (!in) continue;
      auto out = connect(back_, Timeout(2000));
      if (!out || killed_) continue;  // dropping `in` closes it
      auto p = std::make_shared<Pair>(Pair{std::move(*in), std::move(*out)});
      p->a.set_timeout(Timeout(20000));
      p->b.set_timeout(Timeout(20000));
      std::lock_guard<std::mutex> g(mu_);
      pairs_.push_back(p);
      relays_.emplace_back([this, p] { relay(p->a, p->b, p); });
      relays_.emplace_back([this, p] { relay(p->b, p->a, p); });
    }
  }

  // Copies from -> to; past the limit, forwards only the bytes up to it and
  // kills every connection.
  void relay(Channel& from, Channel& to, std::shared_ptr<Pair> keep) {
    std::vector<std::uint8_t> buf(64 * 1024);
    for (;;) {
      auto n = from.read(buf);
      if (!n || *n == 0) break;
      std::size_t len = *n;
      if (limit_) {
        const std::uint64_t before = passed_.fetch_add(len);
        if (before >= limit_) { kill(); break; }
        if (before + len > limit_) {
          len = static_cast<std::size_t>(limit_ - before);
          (void)to.write(ByteSpan(buf.data(), len));
          kill();
          break;
        }
      } else {
        const std::uint64_t before = passed_.fetch_add(len);
        if (flip_at_ > before && flip_at_ <= before + len) buf[flip_at_ - before - 1] ^= 0xff;
      }
      if (!to.write(ByteSpan(buf.data(), len))) break;
    }
    // One side ended: end both, as a dropped connection would.
    (void)to.shutdown_write();
    if (killed_) {
      from.abort();
      to.abort();
    }
    (void)keep;
  }

  Endpoint back_;
  std::uint64_t limit_;
  std::uint64_t flip_at_;
  std::unique_ptr<Listener> listener_;
  std::thread acceptor_;
  std::atomic<bool> stop_{false}, killed_{false};
  std::atomic<std::uint64_t> passed_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<Pair>> pairs_;
  std::vector<std::thread> relays_;
};

}  // namespace statewire::testing
