// Page bitmaps, dirty sets and the program-driven tracker.
#include <fmt/format.h>

#include <bit>

#include "memory/library_trackers.hpp"
#include "statewire/dirty_tracker.hpp"

namespace statewire {

void PageBitmap::set_all() {
  std::fill(words_.begin(), words_.end(), ~std::uint64_t{0});
  if (pages_ % 64) words_.back() = (std::uint64_t{1} << (pages_ % 64)) - 1;
}

void PageBitmap::clear_all() { std::fill(words_.begin(), words_.end(), 0); }

void PageBitmap::merge(const PageBitmap& other) {
  const std::size_t n = std::min(words_.size(), other.words_.size());
  for (std::size_t i = 0; i < n; ++i) words_[i] |= other.words_[i];
}

std::uint64_t PageBitmap::count() const {
  std::uint64_t n = 0;
  for (auto w : words_) n += static_cast<std::uint64_t>(std::popcount(w));
  return n;
}

std::uint64_t PageBitmap::next_set(std::uint64_t from) const {
  if (from >= pages_) return pages_;
  std::size_t wi = from / 64;
  std::uint64_t w = words_[wi] & (~std::uint64_t{0} << (from % 64));
  while (w == 0) {
    if (++wi == words_.size()) return pages_;
    w = words_[wi];
  }
  return std::min<std::uint64_t>(wi * 64 + static_cast<std::uint64_t>(std::countr_zero(w)), pages_);
}

DirtySet DirtySet::empty_for(const RegionSet& regions) {
  DirtySet d;
  d.regions.reserve(regions.size());
  for (const auto& r : regions.regions()) d.regions.emplace_back(r.page_count());
  return d;
}

DirtySet DirtySet::all_of(const RegionSet& regions) {
  DirtySet d = empty_for(regions);
  for (auto& b : d.regions) b.set_all();
  return d;
}

std::uint64_t DirtySet::pages() const {
  std::uint64_t n = 0;
  for (const auto& b : regions) n += b.count();
  return n;
}

std::uint64_t DirtySet::bytes(const RegionSet& set) const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < regions.size() && i < set.size(); ++i)
    n += regions[i].count() * set[static_cast<std::uint32_t>(i)].page_size;
  return n;
}

void DirtySet::merge(const DirtySet& other) {
  if (regions.empty()) {
    *this = other;
    return;
  }
  for (std::size_t i = 0; i < regions.size() && i < other.regions.size(); ++i)
    regions[i].merge(other.regions[i]);
}

// ---- program-driven tracker ----

Result<void> ProgramDirtyTracker::start(const RegionSet& regions) {
  if (active_.load()) return fail(Errc::invalid_value, "dirty tracker: already started");
  bits_.clear();
  bits_.reserve(regions.size());
  for (const auto& r : regions.regions()) {
    Bits b;
    b.base = r.base;
    b.size = r.size;
    b.page_shift = static_cast<std::uint32_t>(std::countr_zero(r.page_size));
    b.pages = r.page_count();
    const std::uint64_t words = (b.pages + 63) / 64;
    b.words = std::make_unique<std::atomic<std::uint64_t>[]>(words);
    for (std::uint64_t i = 0; i < words; ++i) b.words[i].store(0, std::memory_order_relaxed);
    bits_.push_back(std::move(b));
  }
  active_.store(true, std::memory_order_release);
  return {};
}

void ProgramDirtyTracker::mark_dirty(std::uint32_t region, std::uint64_t offset,
                                     std::uint64_t length) noexcept {
  if (!active_.load(std::memory_order_acquire) || region >= bits_.size() || length == 0) return;
  Bits& b = bits_[region];
  if (offset >= b.size) return;
  const std::uint64_t end = std::min(b.size, offset + std::min(length, b.size - offset));
  std::uint64_t first = offset >> b.page_shift;
  const std::uint64_t last = (end - 1) >> b.page_shift;
  while (first <= last) {
    const std::uint64_t wi = first / 64;
    const std::uint64_t upto = std::min(last, wi * 64 + 63);
    const unsigned lo = static_cast<unsigned>(first % 64), hi = static_cast<unsigned>(upto % 64);
    const std::uint64_t mask =
        (hi == 63 ? ~std::uint64_t{0} : ((std::uint64_t{1} << (hi + 1)) - 1)) &
        (~std::uint64_t{0} << lo);
    // A plain load first: a page written again and again stays one read of a
    // shared cache line instead of a locked write from every thread.
    auto& w = b.words[wi];
    if ((w.load(std::memory_order_relaxed) & mask) != mask)
      w.fetch_or(mask, std::memory_order_relaxed);
    first = upto + 1;
  }
}

void ProgramDirtyTracker::mark_dirty_at(const void* address, std::uint64_t length) noexcept {
  const auto* p = static_cast<const std::uint8_t*>(address);
  for (std::uint32_t i = 0; i < bits_.size(); ++i) {
    const Bits& b = bits_[i];
    if (p >= b.base && p < b.base + b.size) {
      mark_dirty(i, static_cast<std::uint64_t>(p - b.base), length);
      return;
    }
  }
}

Result<DirtySet> ProgramDirtyTracker::collect() {
  if (!active_.load()) return fail(Errc::invalid_value, "dirty tracker: collect before start");
  DirtySet d;
  d.regions.reserve(bits_.size());
  for (auto& b : bits_) {
    PageBitmap out(b.pages);
    auto& words = out.words();
    for (std::size_t i = 0; i < words.size(); ++i) {
      // Skip the locked exchange for clean words, the common case late in pre-copy.
      if (b.words[i].load(std::memory_order_relaxed) != 0)
        words[i] = b.words[i].exchange(0, std::memory_order_acq_rel);
    }
    d.regions.push_back(std::move(out));
  }
  return d;
}

void ProgramDirtyTracker::stop() noexcept { active_.store(false, std::memory_order_release); }

// ---- kinds ----

std::string_view tracker_name(TrackerKind kind) {
  switch (kind) {
    case TrackerKind::program: return "program";
    case TrackerKind::uffd_wp: return "uffd-wp";
    case TrackerKind::soft_dirty: return "soft-dirty";
    case TrackerKind::mprotect: return "mprotect";
  }
  return "?";
}

Result<TrackerKind> parse_tracker_kind(std::string_view name) {
  for (auto k : {TrackerKind::program, TrackerKind::uffd_wp, TrackerKind::soft_dirty,
                 TrackerKind::mprotect})
    if (tracker_name(k) == name) return k;
  return fail(Errc::invalid_value,
              fmt::format("unknown dirty tracker '{}' (program, uffd-wp, soft-dirty, mprotect)", name));
}

const std::vector<TrackerSupport>& probe_trackers() {
  static const std::vector<TrackerSupport> result = [] {
    std::vector<TrackerSupport> v;
    v.push_back({TrackerKind::program, true, "the program calls mark_dirty"});
    v.push_back(detail::probe_uffd_wp());
    v.push_back(detail::probe_soft_dirty());
    v.push_back(detail::probe_mprotect());
    return v;
  }();
  return result;
}

Result<std::unique_ptr<DirtyTracker>> make_tracker(TrackerKind kind) {
  if (kind == TrackerKind::program) return std::unique_ptr<DirtyTracker>(new ProgramDirtyTracker);
  for (const auto& s : probe_trackers())
    if (s.kind == kind && !s.available)
      return fail(Errc::unsupported,
                  fmt::format("dirty tracker {} is not available here: {}", tracker_name(kind), s.reason));
  return detail::make_library_tracker(kind);
}

}  // namespace statewire
