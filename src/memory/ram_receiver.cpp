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
#include "memory/ram_receiver_impl.hpp"
#include "statewire/ram_transfer.hpp"

namespace statewire {

using namespace detail;
using Clock = std::chrono::steady_clock;

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

}  // namespace statewire
