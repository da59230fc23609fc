// statewire/dirty_tracker.hpp — which pages of the registered regions changed.
//
// Pre-copy sends every page once, then round after round the pages written
// since the previous round. A tracker answers "which pages" per round:
// `start` begins tracking, `collect` returns the pages dirtied since start or
// the previous collect and resets them, `stop` ends tracking.
//
// Two kinds:
// - ProgramDirtyTracker: the program says what it wrote (`mark_dirty`). An
//   atomic bitmap, one bit per page; marking is a load and, when the bit was
//   clear, one fetch_or, safe from any thread.
// - A tracker the library runs for memory it cannot ask the program about
//   (`make_tracker(TrackerKind::...)`): the kernel reports written pages.
//   Which mechanisms work depends on the kernel and privileges;
//   `probe_trackers()` says which, and why not (docs/memory-transfer.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/memory_region.hpp"
#include "statewire/result.hpp"

namespace statewire {

// One bit per page of one region.
class PageBitmap {
 public:
  PageBitmap() = default;
  explicit PageBitmap(std::uint64_t pages) : pages_(pages), words_((pages + 63) / 64, 0) {}

  std::uint64_t pages() const { return pages_; }
  bool test(std::uint64_t page) const { return (words_[page / 64] >> (page % 64)) & 1u; }
  void set(std::uint64_t page) { words_[page / 64] |= std::uint64_t{1} << (page % 64); }
  void reset(std::uint64_t page) { words_[page / 64] &= ~(std::uint64_t{1} << (page % 64)); }
  void set_all();
  void clear_all();
  // Sets every page that is set in `other` (same page count).
  void merge(const PageBitmap& other);
  std::uint64_t count() const;
  bool none() const { return count() == 0; }

  // The first set page at or after `from`, or pages() when none.
  std::uint64_t next_set(std::uint64_t from) const;

  std::vector<std::uint64_t>& words() { return words_; }
  const std::vector<std::uint64_t>& words() const { return words_; }

 private:
  std::uint64_t pages_ = 0;
  std::vector<std::uint64_t> words_;
};

// Dirty pages per region, indexed by region id.
struct DirtySet {
  std::vector<PageBitmap> regions;

  static DirtySet empty_for(const RegionSet& regions);
  static DirtySet all_of(const RegionSet& regions);
  std::uint64_t pages() const;
  std::uint64_t bytes(const RegionSet& regions) const;
  void merge(const DirtySet& other);
};

enum class TrackerKind : std::uint8_t {
  program,     // the program calls mark_dirty
  uffd_wp,     // userfaultfd asynchronous write-protect + PAGEMAP_SCAN (Linux 6.7+)
  soft_dirty,  // /proc/self/clear_refs + /proc/self/pagemap bit 55
  mprotect,    // read-only pages, a SIGSEGV handler records the first write
};

std::string_view tracker_name(TrackerKind kind);
[[nodiscard]] Result<TrackerKind> parse_tracker_kind(std::string_view name);

class DirtyTracker {
 public:
  virtual ~DirtyTracker() = default;
  virtual TrackerKind kind() const = 0;
  // Begins tracking these regions (kept by reference until stop()).
  [[nodiscard]] virtual Result<void> start(const RegionSet& regions) = 0;
  // Pages dirtied since start() or the previous collect(), and resets them.
  [[nodiscard]] virtual Result<DirtySet> collect() = 0;
  // Ends tracking; the regions are plain memory again. Idempotent.
  virtual void stop() noexcept = 0;
};

class ProgramDirtyTracker final : public DirtyTracker {
 public:
  ProgramDirtyTracker() = default;
  ~ProgramDirtyTracker() override = default;
  TrackerKind kind() const override { return TrackerKind::program; }
  [[nodiscard]] Result<void> start(const RegionSet& regions) override;
  [[nodiscard]] Result<DirtySet> collect() override;
  void stop() noexcept override;

  // Marks every page overlapping [offset, offset + length) of region `region`.
  // Thread-safe and lock-free; ignored before start(), after stop(), and for
  // an unknown region or a range past its end (clipped), so a program can
  // call it unconditionally on its write path.
  void mark_dirty(std::uint32_t region, std::uint64_t offset, std::uint64_t length) noexcept;
  // The same by address: any registered region containing it.
  void mark_dirty_at(const void* address, std::uint64_t length) noexcept;

 private:
  struct Bits {
    std::uint8_t* base = nullptr;
    std::uint64_t size = 0;
    std::uint32_t page_shift = 12;
    std::uint64_t pages = 0;
    std::unique_ptr<std::atomic<std::uint64_t>[]> words;
  };
  std::vector<Bits> bits_;
  std::atomic<bool> active_{false};
};

struct TrackerSupport {
  TrackerKind kind;
  bool available = false;
  std::string reason;  // why not, when unavailable; what it needs otherwise
};

// What works on this machine, probed on a scratch mapping (cheap; cached).
const std::vector<TrackerSupport>& probe_trackers();

// A library-managed tracker of this kind, or Errc::unsupported with the
// reason it cannot run here. TrackerKind::program gives a ProgramDirtyTracker.
[[nodiscard]] Result<std::unique_ptr<DirtyTracker>> make_tracker(TrackerKind kind);

}  // namespace statewire
