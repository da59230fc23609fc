// The guest `statewire migrate` moves: the example VM's devices plus a block
// of RAM, and (on the source) a thread that keeps writing that RAM at a chosen
// rate, telling the dirty tracker what it wrote, as a running VM would.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "statewire/dirty_tracker.hpp"
#include "statewire/memory_region.hpp"
#include "statewire/result.hpp"

namespace statewire::cli {

// Anonymous memory, page aligned, unmapped on destruction.
class GuestRam {
 public:
  [[nodiscard]] static Result<GuestRam> map(std::uint64_t bytes);
  GuestRam(GuestRam&& o) noexcept : base_(o.base_), size_(o.size_) { o.base_ = nullptr; }
  GuestRam& operator=(GuestRam&&) = delete;
  ~GuestRam();
  std::uint8_t* data() const { return base_; }
  std::uint64_t size() const { return size_; }
  // Pseudo-random, never-zero 64-bit words from `seed` (xorshift), so zero
  // elision cannot shortcut the transfer.
  void fill(std::uint64_t seed);

 private:
  GuestRam(std::uint8_t* b, std::uint64_t n) : base_(b), size_(n) {}
  std::uint8_t* base_ = nullptr;
  std::uint64_t size_ = 0;
};

// A thread that writes one word into a random page of `ram` (region 0 of the
// tracker) at `bytes_per_second` of dirtied pages, calling `tick` about every
// millisecond (the device model advances). pause() returns once it stopped.
class GuestWriter {
 public:
  GuestWriter(GuestRam& ram, ProgramDirtyTracker& tracker, double bytes_per_second,
              std::function<void()> tick);
  ~GuestWriter();
  void pause();
  void resume();
  std::uint64_t pages_written() const { return pages_.load(); }

 private:
  void loop();
  GuestRam& ram_;
  ProgramDirtyTracker& tracker_;
  double rate_;
  std::function<void()> tick_;
  std::atomic<bool> stop_{false}, pause_{false}, paused_{false};
  std::atomic<std::uint64_t> pages_{0};
  std::thread thread_;
};

}  // namespace statewire::cli
