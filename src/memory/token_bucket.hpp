// A bandwidth cap shared by the sending threads of one transfer.
//
// Each send reserves its bytes on a virtual clock that advances by
// bytes / rate, and sleeps until its slot; a burst of up to 50 ms of traffic
// may go at once after an idle spell, so short rounds are not slowed by the
// cap's granularity. Sleeps are cut into 20 ms slices that check for cancel.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

namespace statewire::detail {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TokenBucket(std::uint64_t bytes_per_second) : rate_(bytes_per_second) {}

  std::uint64_t rate() const { return rate_; }

  // Waits until `bytes` may be sent; false when `cancelled()` became true.
  template <class Cancelled>
  bool take(std::uint64_t bytes, Cancelled&& cancelled) {
    if (rate_ == 0) return true;
    Clock::time_point slot;
    {
      std::lock_guard lock(mu_);
      const auto now = Clock::now();
      const auto burst = std::chrono::milliseconds(50);
      if (next_ < now - burst) next_ = now - burst;
      slot = next_;
      next_ += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(rate_)));
    }
    while (true) {
      const auto now = Clock::now();
      if (now >= slot) return true;
      if (cancelled()) return false;
      std::this_thread::sleep_for(std::min<Clock::duration>(slot - now, std::chrono::milliseconds(20)));
    }
  }

 private:
  std::uint64_t rate_;
  std::mutex mu_;
  Clock::time_point next_{};
};

}  // namespace statewire::detail
