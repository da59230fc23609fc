// Page CRC tables and the per-region digest (page_digest.hpp).
#include "memory/page_digest.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "core/crc32c.hpp"
#include "memory/page_wire.hpp"

namespace statewire::detail {

void PageDigest::reset(const RegionSet& regions) {
  crcs_.clear();
  known_.clear();
  for (const auto& r : regions.regions()) {
    crcs_.emplace_back(r.page_count(), 0);
    known_.emplace_back(r.page_count());
  }
}

void PageDigest::forget(const DirtySet& written) {
  for (std::size_t r = 0; r < known_.size() && r < written.regions.size(); ++r) {
    auto& k = known_[r].words();
    const auto& w = written.regions[r].words();
    for (std::size_t i = 0; i < k.size() && i < w.size(); ++i) k[i] &= ~w[i];
  }
}

void PageDigest::learn(const DirtySet& pages) {
  for (std::size_t r = 0; r < known_.size() && r < pages.regions.size(); ++r)
    known_[r].merge(pages.regions[r]);
}

std::uint64_t PageDigest::fill(const RegionSet& regions, const std::vector<const std::uint8_t*>& bases,
                               const std::vector<PageBitmap>* only) {
  // Work in runs of up to 4096 pages (16 MiB of 4 KiB pages) that threads
  // claim one at a time.
  struct Run {
    std::uint32_t region;
    std::uint64_t first, end;
  };
  constexpr std::uint64_t kRunPages = 4096;
  std::vector<Run> runs;
  for (std::uint32_t r = 0; r < known_.size(); ++r) {
    const std::uint64_t pages = known_[r].pages();
    for (std::uint64_t first = 0; first < pages; first += kRunPages) {
      const std::uint64_t end = std::min(pages, first + kRunPages);
      bool any = false;
      for (std::uint64_t p = first; p < end && !any; p += 64) {
        const std::size_t w = p / 64;
        std::uint64_t want = ~known_[r].words()[w];
        if (only) want &= (*only)[r].words()[w];
        any = want != 0;
      }
      if (any) runs.push_back({r, first, end});
    }
  }
  if (runs.empty()) return 0;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> done{0};
  auto work = [&] {
    std::vector<const std::uint8_t*> ptrs;
    std::vector<std::uint64_t> idx;
    std::vector<std::uint32_t> out;
    for (std::size_t k; (k = next.fetch_add(1)) < runs.size();) {
      const Run& run = runs[k];
      const std::uint32_t ps = regions[run.region].page_size;
      ptrs.clear();
      idx.clear();
      for (std::uint64_t p = run.first; p < run.end; ++p) {
        if (known_[run.region].test(p)) continue;
        if (only && !(*only)[run.region].test(p)) continue;
        ptrs.push_back(bases[run.region] + p * ps);
        idx.push_back(p);
      }
      out.resize(ptrs.size());
      crc_pages(ptrs.data(), ptrs.size(), ps, out.data());
      std::uint32_t* t = crcs_[run.region].data();
      for (std::size_t i = 0; i < idx.size(); ++i) t[idx[i]] = out[i];
      done.fetch_add(idx.size(), std::memory_order_relaxed);
    }
  };
  const unsigned threads = static_cast<unsigned>(
      std::min<std::size_t>(runs.size(), std::max(1u, std::thread::hardware_concurrency())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  // Runs are whole 64-page words apart (4096 is a multiple of 64), so the
  // bitmaps are updated here, after the threads, without sharing a word.
  for (const Run& run : runs)
    for (std::uint64_t p = run.first; p < run.end; ++p)
      if (!only || (*only)[run.region].test(p)) known_[run.region].set(p);
  return done.load();
}

std::vector<std::uint32_t> PageDigest::digests() const {
  std::vector<std::uint32_t> out;
  for (const auto& t : crcs_) out.push_back(crc32c(0, t.data(), t.size() * sizeof(std::uint32_t)));
  return out;
}

std::uint32_t PageDigest::zero_page_crc(std::uint32_t size) {
  static std::mutex mu;
  static std::map<std::uint32_t, std::uint32_t> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(size);
  if (it != cache.end()) return it->second;
  const std::vector<std::uint8_t> zero(size, 0);
  return cache[size] = crc32c(0, zero.data(), size);
}

}  // namespace statewire::detail
