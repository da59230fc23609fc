// QEMU's multifd channels through the proxy: further connections from the
// source, accepted while the main channel runs, each passed through byte for
// byte to its own connection to the destination on its own thread. They
// carry RAM pages only (multifd packets), which the proxy never rewrites.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "statewire/proxy.hpp"

namespace statewire {

class ExtraChannels {
 public:
  // `stopping`: set by the main channel when the migration failed; when a
  // pass-through fails, `on_failure` is called once (it aborts the main channels).
  ExtraChannels(const ProxyOptions& opt, std::atomic<bool>& stopping,
                std::function<void()> on_failure);
  ~ExtraChannels();

  void start();
  // The main channel is done: waits (bounded by the idle timeout) for the
  // source to close every extra channel, then ends them all.
  void finish(bool main_ok);
  std::uint32_t channels() const { return count_.load(); }
  std::uint64_t bytes() const { return bytes_.load(); }
  std::uint64_t bytes_in() const { return in_.load(); }
  std::uint64_t bytes_out() const { return out_.load(); }
  std::string error() const;

 private:
  struct Pair {
    Channel src, dst;
    std::thread pump;
    std::atomic<bool> ended{false};
  };
  void accept_loop();
  void pump(Pair& p, std::uint32_t index);
  void failed(std::string why);

  const ProxyOptions& opt_;
  std::atomic<bool>& stopping_;
  std::function<void()> on_failure_;
  std::atomic<bool> done_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::list<Pair> pairs_;  // stable addresses for the pump threads
  std::string error_;
  std::atomic<std::uint32_t> count_{0};
  std::atomic<std::uint64_t> bytes_{0}, in_{0}, out_{0};
};

}  // namespace statewire
