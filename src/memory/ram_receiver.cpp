// RamReceiver: page records from every data channel into a staging area.
#include <fmt/format.h>
#include <lz4.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include <mutex>
#include <optional>
#include <thread>

#include "memory/page_digest.hpp"
#include "memory/page_wire.hpp"
#include "statewire/ram_transfer.hpp"

namespace statewire {

using namespace detail;
using Clock = std::chrono::steady_clock;

namespace {

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

}  // namespace

struct RamReceiver::Impl {
  RegionSet& regions;
  std::vector<Channel*> channels;
  RamReceiveOptions opt;
  std::vector<Stage> stages;
  std::uint64_t next_round = 0;
  bool final_seen = false;
  std::optional<Error> broken;
  bool committed = false;
  std::atomic<bool> cancelled{false};
  PageDigest digest;  // CRCs of the staged pages, for verify()

  Impl(RegionSet& r, std::vector<Channel*> c, RamReceiveOptions o)
      : regions(r), channels(std::move(c)), opt(o) {}

  bool is_cancelled() const {
    return cancelled.load(std::memory_order_relaxed) ||
           (opt.cancel && opt.cancel->load(std::memory_order_relaxed));
  }

  Result<void> ensure_stages() {
    if (!stages.empty() || regions.empty()) return {};
    for (const auto& r : regions.regions()) {
      Stage s;
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

  Result<void> channel_round(std::size_t index, std::uint64_t round, ChannelRound& out);
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

namespace {

bool is_tcp(int fd) {
  int domain = 0;
  socklen_t len = sizeof domain;
  return fd >= 0 && ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
         (domain == AF_INET || domain == AF_INET6);
}

bool set_rcvlowat(int fd, int bytes) {
  return fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0;
}

Error at_channel(Error e, std::size_t index, const Channel& ch, std::uint64_t offset) {
  e.message = fmt::format("data channel {} ({}): {}", index, ch.peer(), e.message);
  return std::move(e.at(offset));
}

}  // namespace

Result<void> RamReceiver::Impl::channel_round(std::size_t index, std::uint64_t round,
                                              ChannelRound& out) {
  Channel& ch = *channels[index];
  const bool tcp = is_tcp(ch.fd());
  for (const auto& r : regions.regions()) {
    out.data.emplace_back(r.page_count());
    out.zero.emplace_back(r.page_count());
    out.torn.emplace_back(r.page_count());
    out.checked.emplace_back(r.page_count());
  }
  std::vector<PageEntry> table;
  std::vector<std::span<std::uint8_t>> parts;
  std::vector<const std::uint8_t*> ptrs;
  std::vector<std::uint32_t> crcs;
  std::vector<std::uint8_t> packed, unpacked;
  std::unique_ptr<ZSTD_DCtx, ZstdDctxFree> dctx;
  std::uint8_t hdr[kPageHeaderSize];

  while (true) {
    if (is_cancelled()) return fail(Errc::io_error, "cancelled");
    const std::uint64_t at = ch.bytes_read();
    auto bad = [&](Errc code, std::string msg) { return at_channel(make_error(code, std::move(msg)), index, ch, at); };
    if (auto r = ch.read_exact({hdr, kPageHeaderSize}); !r)
      return fail(at_channel(r.error(), index, ch, at));
    PageHeader h;
    if (!get_header(hdr, h))
      return fail(bad(Errc::bad_magic, fmt::format("expected a page record (SWPG), found {:02x} {:02x} {:02x} {:02x}",
                                                   hdr[0], hdr[1], hdr[2], hdr[3])));
    const std::uint32_t want_crc = load_le32(hdr + 36);
    if (h.round != round)
      return fail(bad(Errc::mismatch, fmt::format("record of round {} while receiving round {}", h.round, round)));
    if (h.flags & 0xf0)
      return fail(bad(Errc::unsupported, fmt::format("unknown record flags {:#04x}", h.flags)));
    const bool final = (h.flags & kFlagFinal) != 0;
    if (h.kind == PageRecord::end_of_round) {
      if (h.count != 0 || h.payload != 0 || header_crc(hdr, nullptr, 0) != want_crc)
        return fail(bad(Errc::invalid_value, "end-of-round marker fails its CRC"));
      if (h.aux != out.entries)
        return fail(bad(Errc::mismatch,
                        fmt::format("round {} ended after {} pages but the sender counted {}", round,
                                    out.entries, h.aux)));
      out.final = final;
      out.wire += kPageHeaderSize;
      return {};
    }
    if (h.kind != PageRecord::pages && h.kind != PageRecord::zero_pages)
      return fail(bad(Errc::invalid_value, fmt::format("unknown page record kind {}", static_cast<int>(h.kind))));
    if (h.region >= regions.size())
      return fail(bad(Errc::invalid_value, fmt::format("region id {} but {} regions are registered", h.region,
                                                       regions.size())));
    const MemoryRegion& reg = regions[h.region];
    const std::uint8_t comp = h.flags & kFlagCompressionMask;
    const std::uint32_t max_entries = h.kind == PageRecord::pages ? kMaxDataEntries : kMaxZeroEntries;
    auto bad_region = [&](Errc code, std::string msg) {
      Error e = bad(code, std::move(msg));
      e.section = reg.name;
      return e;
    };
    if (h.count == 0 || h.count > max_entries)
      return fail(bad_region(Errc::limit_exceeded, fmt::format("{} pages in one record (1 to {} allowed)",
                                                               h.count, max_entries)));
    const std::uint64_t raw = std::uint64_t{h.count} * reg.page_size;
    if (h.kind == PageRecord::zero_pages && (h.payload != 0 || comp != 0))
      return fail(bad_region(Errc::invalid_value, "zero-page record with a payload"));
    if (h.kind == PageRecord::pages) {
      if (comp == 3) return fail(bad_region(Errc::unsupported, "unknown compression method 3"));
      if (comp == 0 && h.payload != raw)
        return fail(bad_region(Errc::invalid_value,
                               fmt::format("{} pages need {} payload bytes, the record says {}", h.count, raw,
                                           h.payload)));
      const std::uint64_t bound = comp == 1 ? ZSTD_compressBound(raw)
                                            : static_cast<std::uint64_t>(LZ4_compressBound(static_cast<int>(raw)));
      if (comp != 0 && (h.payload == 0 || h.payload > bound))
        return fail(bad_region(Errc::limit_exceeded,
                               fmt::format("compressed payload of {} bytes for {} raw bytes", h.payload, raw)));
    }
    table.resize(h.count);
    if (auto r = ch.read_exact({reinterpret_cast<std::uint8_t*>(table.data()), h.count * kPageEntrySize}); !r)
      return fail(at_channel(r.error(), index, ch, at));
    if (header_crc(hdr, table.data(), h.count) != want_crc)
      return fail(bad_region(Errc::invalid_value, "record header or page table fails its CRC"));
    const std::uint64_t pages = reg.page_count();
    for (const auto& e : table)
      if (e.index >= pages) {
        Error err = bad_region(Errc::invalid_value,
                               fmt::format("page {} is past the region's end ({} pages)", e.index, pages));
        err.field_path = fmt::format("page[{}]", e.index);
        return fail(std::move(err));
      }
    out.wire += kPageHeaderSize + h.count * kPageEntrySize + h.payload;
    out.entries += h.count;
    Stage& st = stages[h.region];
    if (h.kind == PageRecord::zero_pages) {
      std::uint32_t* known = digest.table(h.region);
      const std::uint32_t zero_crc = PageDigest::zero_page_crc(reg.page_size);
      for (const auto& e : table) {
        // The staging area always holds the final image, so commit may move
        // it whole; reading first keeps never-written staging pages untouched.
        std::uint8_t* p = st.mem + std::uint64_t{e.index} * reg.page_size;
        if (!is_zero_page(p, reg.page_size)) std::memset(p, 0, reg.page_size);
        out.zero[h.region].set(e.index);
        out.data[h.region].reset(e.index);
        out.torn[h.region].reset(e.index);
        known[e.index] = zero_crc;
        out.checked[h.region].set(e.index);
      }
      out.zero_pages += h.count;
      continue;
    }
    ptrs.clear();
    if (comp == 0) {
      // Straight into the staging pages, neighbours merged into one part.
      parts.clear();
      for (const auto& e : table) {
        std::uint8_t* p = st.mem + std::uint64_t{e.index} * reg.page_size;
        if (!parts.empty() && parts.back().data() + parts.back().size() == p)
          parts.back() = {parts.back().data(), parts.back().size() + reg.page_size};
        else
          parts.emplace_back(p, reg.page_size);
        ptrs.push_back(p);
      }
      // One wake-up per batch rather than one per TCP segment: poll() says
      // readable once the whole payload is queued (SO_RCVLOWAT), or at EOF or
      // an error, so the wait stays bounded by the channel's timeout. TCP
      // only: a unix socket's poll() ignores the mark while its read honours it.
      const bool lowat = tcp && set_rcvlowat(ch.fd(), static_cast<int>(std::min<std::uint64_t>(raw, 4u << 20)));
      auto got_pages = ch.read_exact_vectored(parts);
      if (lowat) set_rcvlowat(ch.fd(), 1);
      if (!got_pages) return fail(at_channel(got_pages.error(), index, ch, at));
    } else {
      packed.resize(h.payload);
      if (auto r = ch.read_exact({packed.data(), packed.size()}); !r)
        return fail(at_channel(r.error(), index, ch, at));
      unpacked.resize(raw);
      std::size_t got = 0;
      if (comp == 1) {
        if (!dctx) dctx.reset(ZSTD_createDCtx());
        got = ZSTD_decompressDCtx(dctx.get(), unpacked.data(), raw, packed.data(), packed.size());
        if (ZSTD_isError(got))
          return fail(bad_region(Errc::invalid_value, fmt::format("zstd payload: {}", ZSTD_getErrorName(got))));
      } else {
        const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(packed.data()),
                                          reinterpret_cast<char*>(unpacked.data()),
                                          static_cast<int>(packed.size()), static_cast<int>(raw));
        if (n < 0) return fail(bad_region(Errc::invalid_value, "lz4 payload does not decode"));
        got = static_cast<std::size_t>(n);
      }
      if (got != raw)
        return fail(bad_region(Errc::invalid_value,
                               fmt::format("payload decodes to {} bytes, {} pages need {}", got, h.count, raw)));
      for (std::uint32_t i = 0; i < h.count; ++i) ptrs.push_back(unpacked.data() + std::size_t{i} * reg.page_size);
    }
    const bool check = (h.flags & kFlagNoPageCrc) == 0;
    crcs.assign(h.count, 0);
    if (check) crc_pages(ptrs.data(), h.count, reg.page_size, crcs.data());
    for (std::uint32_t i = 0; i < h.count; ++i) {
      const std::uint32_t page = table[i].index;
      if (crcs[i] != table[i].crc) {
        // A raw page of a live round may have been written by the program
        // while it was sent: it is dirty again and will come in a later
        // round. In the final round the program was stopped, and compressed
        // pages were copied before their CRC: a mismatch there is damage.
        if (final || comp != 0) {
          Error err = bad_region(Errc::invalid_value,
                                 fmt::format("page {} fails its CRC32C (sent {:08x}, received {:08x})", page,
                                             table[i].crc, crcs[i]));
          err.field_path = fmt::format("page[{}]", page);
          return fail(std::move(err));
        }
        out.torn[h.region].set(page);
        out.data[h.region].reset(page);
        out.checked[h.region].reset(page);
        ++out.torn_pages;
      } else {
        out.data[h.region].set(page);
        out.torn[h.region].reset(page);
        if (check) {
          digest.table(h.region)[page] = crcs[i];
          out.checked[h.region].set(page);
        } else {
          out.checked[h.region].reset(page);
        }
        ++out.pages;
      }
      out.zero[h.region].reset(page);
      if (comp != 0) std::memcpy(st.mem + std::uint64_t{page} * reg.page_size, ptrs[i], reg.page_size);
    }
  }
}

Result<void> RamReceiver::Impl::check_complete() const {
  for (std::uint32_t r = 0; r < stages.size(); ++r) {
    const Stage& st = stages[r];
    const std::uint64_t have = st.data.count() + st.zero.count();
    if (have != st.data.pages()) {
      std::uint64_t first = 0;
      for (std::size_t w = 0; w < st.data.words().size(); ++w) {
        std::uint64_t missing = ~(st.data.words()[w] | st.zero.words()[w]);
        if (missing) {
          first = w * 64 + static_cast<std::uint64_t>(std::countr_zero(missing));
          break;
        }
      }
      Error e = make_error(Errc::truncated,
                           fmt::format("{} of {} pages never arrived intact (first: page {}{})",
                                       st.data.pages() - have, st.data.pages(), first,
                                       st.torn.test(first) ? ", which failed its CRC and was not sent again" : ""));
      e.section = regions[r].name;
      e.field_path = fmt::format("page[{}]", first);
      return fail(e);
    }
  }
  return {};
}

RamReceiver::RamReceiver(RegionSet& regions, std::vector<Channel*> channels, RamReceiveOptions options)
    : impl_(std::make_unique<Impl>(regions, std::move(channels), options)) {}

RamReceiver::~RamReceiver() { impl_->release(); }

Result<void> RamReceiver::prepare() {
  if (impl_->broken)
    return fail(Errc::io_error, fmt::format("the memory transfer already failed: {}", impl_->broken->message));
  return impl_->ensure_stages();
}

Result<RamReceivedRound> RamReceiver::receive_round() {
  Impl& s = *impl_;
  if (s.broken)
    return fail(Errc::io_error, fmt::format("the memory transfer already failed: {}", s.broken->message));
  if (s.final_seen) return fail(Errc::invalid_value, "the final round was already received");
  if (s.committed) return fail(Errc::invalid_value, "memory was already committed");
  if (s.channels.empty()) return fail(Errc::invalid_value, "no data channel to receive memory on");
  SW_CHECK(s.ensure_stages());

  const std::uint64_t round = s.next_round;
  std::vector<ChannelRound> got(s.channels.size());
  std::vector<std::optional<Error>> errors(s.channels.size());
  std::vector<Timeout> saved;
  for (auto* c : s.channels) {
    saved.push_back(c->timeout());
    c->set_timeout(s.opt.record_timeout);
  }
  const auto t0 = Clock::now();
  std::mutex mu;
  bool aborted = false;
  std::size_t first_error = 0;
  {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < s.channels.size(); ++i)
      threads.emplace_back([&, i] {
        auto r = s.channel_round(i, round, got[i]);
        if (!r) {
          std::lock_guard lock(mu);
          errors[i] = r.error();
          if (!aborted) {
            first_error = i;
            // The others would wait for records that will not come.
            aborted = true;
            for (std::size_t j = 0; j < s.channels.size(); ++j)
              if (j != i) s.channels[j]->abort();
          }
        }
      });
    for (auto& t : threads) t.join();
  }
  for (std::size_t i = 0; i < s.channels.size(); ++i) s.channels[i]->set_timeout(saved[i]);
  // The first error by time is the cause; the others are the aborts it caused.
  if (aborted) {
    auto& e = errors[first_error];
    if (s.is_cancelled()) e->message = fmt::format("memory transfer cancelled in round {}", round);
    s.broken = *e;
    return fail(*e);
  }

  RamReceivedRound out;
  out.round = round;
  out.final = got.front().final;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].final != out.final) {
      Error e = make_error(Errc::mismatch, fmt::format("data channel {} ({}) ended round {} as {} but channel 0 as {}",
                                                       i, s.channels[i]->peer(), round,
                                                       got[i].final ? "final" : "not final",
                                                       out.final ? "final" : "not final"));
      s.broken = e;
      return fail(e);
    }
    out.pages += got[i].pages;
    out.pages_zero += got[i].zero_pages;
    out.pages_torn += got[i].torn_pages;
    out.wire_bytes += got[i].wire;
  }
  // Later state wins: a channel's events replace what earlier rounds left.
  for (std::size_t r = 0; r < s.stages.size(); ++r) {
    Stage& st = s.stages[r];
    auto& d = st.data.words();
    auto& z = st.zero.words();
    auto& t = st.torn.words();
    auto& k = s.digest.known(static_cast<std::uint32_t>(r)).words();
    for (const auto& c : got) {
      const auto& cd = c.data[r].words();
      const auto& cz = c.zero[r].words();
      const auto& ct = c.torn[r].words();
      const auto& ck = c.checked[r].words();
      for (std::size_t w = 0; w < d.size(); ++w) {
        const std::uint64_t touched = cd[w] | cz[w] | ct[w];
        if (!touched) continue;
        d[w] = (d[w] & ~touched) | cd[w];
        z[w] = (z[w] & ~touched) | cz[w];
        t[w] = (t[w] & ~touched) | ct[w];
        // A page that came again without a CRC is not known any more.
        k[w] = (k[w] & ~touched) | ck[w];
      }
    }
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  s.final_seen = out.final;
  ++s.next_round;
  return out;
}

Result<std::vector<RamReceivedRound>> RamReceiver::receive_all() {
  std::vector<RamReceivedRound> rounds;
  while (!impl_->final_seen) {
    SW_TRY(r, receive_round());
    rounds.push_back(r);
  }
  return rounds;
}

bool RamReceiver::complete() const { return impl_->final_seen; }

Result<std::uint64_t> RamReceiver::prepare_digest() {
  Impl& s = *impl_;
  if (s.broken)
    return fail(Errc::io_error, fmt::format("the memory transfer already failed: {}", s.broken->message));
  if (s.stages.empty()) return std::uint64_t{0};
  return s.fill_digest();
}

Result<void> RamReceiver::verify(std::span<const std::uint32_t> source_digest) {
  Impl& s = *impl_;
  if (s.broken) return fail(Errc::io_error, fmt::format("the memory transfer failed: {}", s.broken->message));
  if (s.committed) return fail(Errc::invalid_value, "memory was already committed");
  if (!s.final_seen)
    return fail(Errc::truncated, fmt::format("memory is incomplete: the final round has not arrived "
                                             "({} rounds received)", s.next_round));
  auto failed = [&](Error e) {
    s.broken = e;
    return fail(std::move(e));
  };
  if (auto r = s.check_complete(); !r) return failed(std::move(r.error()));
  if (source_digest.empty()) return {};
  if (source_digest.size() != s.regions.size())
    return failed(make_error(Errc::mismatch, fmt::format("the source sent {} memory digests for {} regions",
                                                         source_digest.size(), s.regions.size())));
  s.fill_digest();
  const std::vector<std::uint32_t> ours = s.digest.digests();
  for (std::size_t r = 0; r < ours.size(); ++r)
    if (ours[r] != source_digest[r]) {
      Error e = make_error(Errc::mismatch,
                           fmt::format("the staged pages differ from the source's memory (digest {:08x}, the "
                                       "source's {:08x}): a page was damaged on the way; nothing was applied",
                                       ours[r], source_digest[r]));
      e.section = s.regions[static_cast<std::uint32_t>(r)].name;
      return failed(std::move(e));
    }
  return {};
}

Result<void> RamReceiver::commit() {
  Impl& s = *impl_;
  if (s.broken) return fail(Errc::io_error, fmt::format("the memory transfer failed: {}", s.broken->message));
  if (s.committed) return fail(Errc::invalid_value, "memory was already committed");
  if (!s.final_seen)
    return fail(Errc::truncated, fmt::format("memory is incomplete: the final round has not arrived "
                                             "({} rounds received)", s.next_round));
  // Every page must have a verified copy before anything is written.
  SW_CHECK(s.check_complete());
  for (std::uint32_t r = 0; r < s.stages.size(); ++r) {
    Stage& st = s.stages[r];
    const MemoryRegion& reg = s.regions[r];
    const auto sys_page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    if (reg.replace_on_commit && reinterpret_cast<std::uintptr_t>(reg.base) % sys_page == 0 &&
        reg.size % sys_page == 0) {
      // The staging pages become the region's pages: no copy.
      void* moved = ::mremap(st.mem, st.size, st.size, MREMAP_MAYMOVE | MREMAP_FIXED, reg.base);
      if (moved != MAP_FAILED) {
        st.mem = nullptr;
        continue;
      }
      // Not movable after all (say, a locked mapping): copy below.
    }
    // Staging holds the final image (zero pages included), so one copy.
    std::memcpy(reg.base, st.mem, reg.size);
  }
  s.committed = true;
  s.release();
  return {};
}

void RamReceiver::discard() noexcept {
  impl_->release();
  if (!impl_->broken) impl_->broken = make_error(Errc::invalid_value, "the staged memory was discarded");
}

void RamReceiver::cancel() noexcept {
  impl_->cancelled.store(true);
  for (auto* c : impl_->channels) c->abort();
}

}  // namespace statewire
