// RamReceiver's state, shared by its two files: ram_receiver.cpp (page
// records from every data channel into staging, round by round) and
// ram_receiver_commit.cpp (verify, commit, discard).
#pragma once

#include <sys/mman.h>
#include <zstd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "memory/page_digest.hpp"
#include "statewire/ram_transfer.hpp"

namespace statewire {

namespace detail {

// Staged copy of one region: anonymous memory the kernel fills on first
// touch, so pages never received cost nothing.
struct Stage {
  std::uint8_t* mem = nullptr;
  std::uint64_t size = 0;
  PageBitmap data;  // the staged bytes are the page
  PageBitmap zero;  // the page is all zero
  PageBitmap torn;  // arrived with a CRC that did not match; must come again
};

// What one channel received in one round, merged after the round.
struct ChannelRound {
  std::vector<PageBitmap> data, zero, torn;
  std::vector<PageBitmap> checked;  // pages whose CRC went into the digest table
  std::uint64_t pages = 0, zero_pages = 0, torn_pages = 0, wire = 0, entries = 0;
  bool final = false;
};

struct ZstdDctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

}  // namespace detail

struct RamReceiver::Impl {
  RegionSet& regions;
  std::vector<Channel*> channels;
  RamReceiveOptions opt;
  std::vector<detail::Stage> stages;
  std::uint64_t next_round = 0;
  bool final_seen = false;
  std::optional<Error> broken;
  bool committed = false;
  std::atomic<bool> cancelled{false};
  detail::PageDigest digest;  // CRCs of the staged pages, for verify()

  Impl(RegionSet& r, std::vector<Channel*> c, RamReceiveOptions o)
      : regions(r), channels(std::move(c)), opt(o) {}

  bool is_cancelled() const {
    return cancelled.load(std::memory_order_relaxed) ||
           (opt.cancel && opt.cancel->load(std::memory_order_relaxed));
  }

  Result<void> ensure_stages() {
    if (!stages.empty() || regions.empty()) return {};
    for (const auto& r : regions.regions()) {
      detail::Stage s;
      void* p = ::mmap(nullptr, r.size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) {
        release();
        return fail(Errc::limit_exceeded,
                    fmt::format("memory region '{}': cannot reserve {} bytes of staging: {}",
                                r.name, r.size, std::strerror(errno)));
      }
      s.mem = static_cast<std::uint8_t*>(p);
      s.size = r.size;
      // Huge pages: one fault per 2 MiB instead of 512, and fewer TLB misses.
      (void)::madvise(p, r.size, MADV_HUGEPAGE);
      // Fault everything in now, before pages flow: the first pass writes
      // every page anyway. Where MADV_POPULATE_WRITE (Linux 5.14) is missing,
      // the pages fault in as they arrive.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
      (void)::madvise(p, r.size, MADV_POPULATE_WRITE);
      s.data = PageBitmap(r.page_count());
      s.zero = PageBitmap(r.page_count());
      s.torn = PageBitmap(r.page_count());
      stages.push_back(std::move(s));
    }
    digest.reset(regions);
    return {};
  }

  void release() noexcept {
    for (auto& s : stages)
      if (s.mem) ::munmap(s.mem, s.size);
    stages.clear();
  }

  Result<void> channel_round(std::size_t index, std::uint64_t round, detail::ChannelRound& out);
  Result<void> check_complete() const;
  std::uint64_t fill_digest() {
    std::vector<const std::uint8_t*> bases;
    std::vector<PageBitmap> have;
    for (const auto& st : stages) {
      bases.push_back(st.mem);
      have.push_back(st.data);
    }
    return digest.fill(regions, bases, &have);
  }
};


}  // namespace statewire
