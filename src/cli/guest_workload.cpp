#include "cli/guest_workload.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace statewire::cli {

Result<GuestRam> GuestRam::map(std::uint64_t bytes) {
  if (bytes == 0) return GuestRam(nullptr, 0);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return fail(Errc::io_error,
                fmt::format("cannot map {} bytes of guest RAM: {}", bytes, std::strerror(errno)));
  return GuestRam(static_cast<std::uint8_t*>(p), bytes);
}

GuestRam::~GuestRam() {
  if (base_) ::munmap(base_, size_);
}

void GuestRam::fill(std::uint64_t seed) {
  std::uint64_t x = seed | 1;
  auto* w = reinterpret_cast<std::uint64_t*>(base_);
  for (std::uint64_t i = 0; i < size_ / 8; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w[i] = x | 1;  // never zero
  }
}

GuestWriter::GuestWriter(GuestRam& ram, ProgramDirtyTracker& tracker, double bytes_per_second,
                         std::function<void()> tick)
    : ram_(ram), tracker_(tracker), rate_(bytes_per_second), tick_(std::move(tick)) {
  thread_ = std::thread([this] { loop(); });
}

GuestWriter::~GuestWriter() {
  stop_ = true;
  thread_.join();
}

void GuestWriter::pause() {
  paused_ = false;  // a stale acknowledgement from an earlier pause does not count
  pause_ = true;
  // The loop checks every millisecond; bounded so a stuck writer cannot hang us.
  for (int i = 0; i < 5000 && !paused_.load(); ++i)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
}

void GuestWriter::resume() {
  pause_ = false;
}

void GuestWriter::loop() {
  using clock = std::chrono::steady_clock;
  const std::uint64_t pages = ram_.size() / 4096;
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  double owed = 0;  // pages the rate allows that were not written yet
  auto last = clock::now();
  while (!stop_.load()) {
    if (pause_.load()) {
      paused_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      last = clock::now();
      continue;
    }
    paused_ = false;
    const auto now = clock::now();
    owed += std::chrono::duration<double>(now - last).count() * rate_ / 4096.0;
    last = now;
    for (; owed >= 1 && pages && !pause_.load(); owed -= 1) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const std::uint64_t page = x % pages;
      auto* word = reinterpret_cast<std::uint64_t*>(ram_.data() + page * 4096 + (x >> 52) * 8 % 4096);
      *word = (*word * 6364136223846793005ull + 1442695040888963407ull) | 1;
      tracker_.mark_dirty(0, page * 4096, 8);
      pages_.fetch_add(1, std::memory_order_relaxed);
    }
    if (tick_) tick_();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace statewire::cli
