// RamSender: rounds of pages over one thread per data channel.
#include <fmt/format.h>
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "memory/page_wire.hpp"
#include "memory/token_bucket.hpp"
#include "statewire/ram_transfer.hpp"

namespace statewire {

using namespace detail;
using Clock = std::chrono::steady_clock;

namespace {

// A run of pages of one region that a worker takes at a time: big enough that
// claiming it is rare, small enough that two channels finish close together.
constexpr std::uint64_t kChunkBytes = 16u << 20;

struct Chunk {
  std::uint32_t region;
  std::uint64_t first, end;  // pages [first, end)
};

struct ZstdCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

}  // namespace

struct RamSender::Impl {
  const RegionSet& regions;
  DirtyTracker& tracker;
  std::vector<Channel*> channels;
  RamSendOptions opt;
  RamProgressFn progress;
  std::atomic<bool> cancelled{false};
  bool started = false;
  bool finished = false;
  std::optional<Error> broken;  // a failed round: nothing more may be sent
  std::uint64_t round = 0;
  DirtySet pending;
  std::uint64_t total_wire = 0;
  std::uint64_t total_page_bytes = 0;
  double total_seconds = 0;
  double last_rate = 0;
  TokenBucket bucket;

  // Shared by the workers of one round.
  struct RoundState {
    const DirtySet* set = nullptr;
    std::vector<Chunk> chunks;
    std::atomic<std::size_t> next_chunk{0};
    std::atomic<std::uint64_t> pages_sent{0}, pages_zero{0}, page_bytes{0}, wire_bytes{0};
    std::atomic<std::uint64_t> done_bytes{0};  // page bytes handled (sent or zero), live
    std::atomic<std::uint64_t> wire_live{0};
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::condition_variable cv;
    unsigned running = 0;
    std::optional<Error> error;
    std::uint64_t round = 0;
    bool final = false;
  };

  Impl(const RegionSet& r, DirtyTracker& t, std::vector<Channel*> c, RamSendOptions o)
      : regions(r), tracker(t), channels(std::move(c)), opt(o), bucket(o.bandwidth_limit) {}

  bool is_cancelled() const {
    return cancelled.load(std::memory_order_relaxed) ||
           (opt.cancel && opt.cancel->load(std::memory_order_relaxed));
  }

  void abort_channels() {
    for (auto* c : channels) c->abort();
  }

  Result<RamRoundStats> run_round(const DirtySet& set, bool final);
  Result<void> worker(RoundState& st, std::size_t index);
};

namespace {

// One worker's batches in the making and their reused buffers.
class BatchWriter {
 public:
  BatchWriter(RamSender::Impl& s, Channel& ch, std::size_t index, std::uint64_t round, bool final,
              std::atomic<std::uint64_t>& shared_page_bytes, std::atomic<std::uint64_t>& shared_wire)
      : s_(s), ch_(ch), index_(index), round_(round), final_(final), shared_(shared_page_bytes),
        shared_wire_(shared_wire) {
    data_hdr_.resize(kPageHeaderSize + kMaxDataEntries * kPageEntrySize);
    zero_hdr_.resize(kPageHeaderSize + kMaxZeroEntries * kPageEntrySize);
  }

  std::uint64_t entries() const { return entries_; }
  std::uint64_t wire() const { return wire_; }

  Result<void> add(std::uint32_t region, std::uint64_t page) {
    const MemoryRegion& r = s_.regions[region];
    const std::uint8_t* p = r.base + page * r.page_size;
    if (region != region_) {
      SW_CHECK(flush());
      region_ = region;
      page_size_ = r.page_size;
      max_data_ = static_cast<std::uint32_t>(
          std::clamp<std::uint64_t>(s_.opt.batch_bytes / r.page_size, 1, kMaxDataEntries));
    }
    if (s_.opt.zero_elision && is_zero_page(p, r.page_size)) {
      zero_idx_.push_back(static_cast<std::uint32_t>(page));
      if (zero_idx_.size() == kMaxZeroEntries) SW_CHECK(flush_zero());
      return {};
    }
    data_idx_.push_back(static_cast<std::uint32_t>(page));
    data_ptr_.push_back(p);
    if (data_idx_.size() == max_data_) SW_CHECK(flush_data());
    return {};
  }

  Result<void> flush() {
    SW_CHECK(flush_data());
    return flush_zero();
  }

  Result<void> end_round() {
    SW_CHECK(flush());
    PageHeader h;
    h.kind = PageRecord::end_of_round;
    h.flags = final_ ? kFlagFinal : 0;
    h.round = round_;
    h.aux = entries_;
    std::uint8_t buf[kPageHeaderSize];
    put_header(buf, h);
    const std::uint32_t crc = header_crc(buf, nullptr, 0);
    std::memcpy(buf + 36, &crc, 4);
    const ByteSpan part(buf, kPageHeaderSize);
    return send({&part, 1}, kPageHeaderSize);
  }

 private:
  Result<void> flush_zero() {
    if (zero_idx_.empty()) return {};
    const auto n = static_cast<std::uint32_t>(zero_idx_.size());
    auto* table = reinterpret_cast<PageEntry*>(zero_hdr_.data() + kPageHeaderSize);
    for (std::uint32_t i = 0; i < n; ++i) table[i] = {zero_idx_[i], 0};
    PageHeader h;
    h.kind = PageRecord::zero_pages;
    h.flags = final_ ? kFlagFinal : 0;
    h.region = static_cast<std::uint16_t>(region_);
    h.count = n;
    h.round = round_;
    put_header(zero_hdr_.data(), h);
    const std::uint32_t crc = header_crc(zero_hdr_.data(), table, n);
    std::memcpy(zero_hdr_.data() + 36, &crc, 4);
    const std::size_t len = kPageHeaderSize + n * kPageEntrySize;
    const ByteSpan part(zero_hdr_.data(), len);
    SW_CHECK(send({&part, 1}, len));
    zero_ += n;
    entries_ += n;
    shared_.fetch_add(std::uint64_t{n} * page_size_, std::memory_order_relaxed);
    zero_idx_.clear();
    return {};
  }

  Result<void> flush_data() {
    if (data_idx_.empty()) return {};
    const auto n = static_cast<std::uint32_t>(data_idx_.size());
    const std::size_t raw = static_cast<std::size_t>(n) * page_size_;
    auto* table = reinterpret_cast<PageEntry*>(data_hdr_.data() + kPageHeaderSize);
    PageHeader h;
    h.kind = PageRecord::pages;
    h.flags = final_ ? kFlagFinal : 0;
    if (!s_.opt.page_checksums) h.flags |= kFlagNoPageCrc;
    h.region = static_cast<std::uint16_t>(region_);
    h.count = n;
    h.round = round_;
    parts_.clear();
    parts_.emplace_back();  // the header and table, filled below
    bool compressed = false;
    if (s_.opt.compression != Compression::none) {
      // Compress a copy: the program may be writing these pages, and the CRC
      // must describe the bytes that were compressed.
      gather_.resize(raw);
      for (std::uint32_t i = 0; i < n; ++i)
        std::memcpy(gather_.data() + std::size_t{i} * page_size_, data_ptr_[i], page_size_);
      SW_TRY(packed, compress(raw));
      for (std::uint32_t i = 0; i < n; ++i) copy_ptr_.push_back(gather_.data() + std::size_t{i} * page_size_);
      crcs_.assign(n, 0);
      if (s_.opt.page_checksums) crc_pages(copy_ptr_.data(), n, page_size_, crcs_.data());
      copy_ptr_.clear();
      if (packed < raw) {
        compressed = true;
        h.flags |= static_cast<std::uint8_t>(s_.opt.compression == Compression::zstd ? 1 : 2);
        h.payload = static_cast<std::uint32_t>(packed);
        parts_.emplace_back(packed_.data(), packed);
      }
    } else {
      crcs_.assign(n, 0);
      if (s_.opt.page_checksums) crc_pages(data_ptr_.data(), n, page_size_, crcs_.data());
    }
    if (!compressed) {
      h.payload = static_cast<std::uint32_t>(raw);
      const std::uint8_t* base = s_.opt.compression != Compression::none ? gather_.data() : nullptr;
      for (std::uint32_t i = 0; i < n; ++i) {
        const std::uint8_t* p = base ? base + std::size_t{i} * page_size_ : data_ptr_[i];
        // Neighbouring pages go out as one part: a first pass is one part per batch.
        if (parts_.size() > 1 && parts_.back().data() + parts_.back().size() == p)
          parts_.back() = ByteSpan(parts_.back().data(), parts_.back().size() + page_size_);
        else
          parts_.emplace_back(p, page_size_);
      }
    }
    for (std::uint32_t i = 0; i < n; ++i) table[i] = {data_idx_[i], crcs_[i]};
    put_header(data_hdr_.data(), h);
    const std::uint32_t crc = header_crc(data_hdr_.data(), table, n);
    std::memcpy(data_hdr_.data() + 36, &crc, 4);
    const std::size_t head = kPageHeaderSize + n * kPageEntrySize;
    parts_[0] = ByteSpan(data_hdr_.data(), head);
    SW_CHECK(send(parts_, head + h.payload));
    sent_ += n;
    page_bytes_ += raw;
    entries_ += n;
    shared_.fetch_add(raw, std::memory_order_relaxed);
    data_idx_.clear();
    data_ptr_.clear();
    return {};
  }

  Result<std::size_t> compress(std::size_t raw) {
    if (s_.opt.compression == Compression::zstd) {
      if (!zctx_) {
        zctx_.reset(ZSTD_createCCtx());
        if (!zctx_) return fail(Errc::invalid_value, "cannot create a zstd context");
      }
      packed_.resize(ZSTD_compressBound(raw));
      const std::size_t n = ZSTD_compressCCtx(zctx_.get(), packed_.data(), packed_.size(),
                                              gather_.data(), raw, s_.opt.compression_level);
      if (ZSTD_isError(n)) return fail(Errc::invalid_value, fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      return n;
    }
    packed_.resize(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(raw))));
    const int n = LZ4_compress_default(reinterpret_cast<const char*>(gather_.data()),
                                       reinterpret_cast<char*>(packed_.data()),
                                       static_cast<int>(raw), static_cast<int>(packed_.size()));
    if (n <= 0) return fail(Errc::invalid_value, "lz4 compression failed");
    return static_cast<std::size_t>(n);
  }

  Result<void> send(std::span<const ByteSpan> parts, std::size_t bytes) {
    if (s_.is_cancelled()) return fail(Errc::io_error, "cancelled");
    if (!s_.bucket.take(bytes, [&] { return s_.is_cancelled(); }))
      return fail(Errc::io_error, "cancelled");
    auto r = ch_.write_vectored(parts);
    if (!r) {
      if (s_.is_cancelled()) return fail(Errc::io_error, "cancelled");
      return r;
    }
    wire_ += bytes;
    shared_wire_.fetch_add(bytes, std::memory_order_relaxed);
    return {};
  }

 public:
  std::uint64_t sent_ = 0, zero_ = 0, page_bytes_ = 0;

 private:
  RamSender::Impl& s_;
  Channel& ch_;
  [[maybe_unused]] std::size_t index_;
  std::uint64_t round_;
  bool final_;
  std::uint32_t region_ = UINT32_MAX;
  std::uint32_t page_size_ = 0;
  std::uint32_t max_data_ = 1;
  std::uint64_t entries_ = 0, wire_ = 0;
  std::vector<std::uint8_t> data_hdr_, zero_hdr_;
  std::vector<std::uint32_t> data_idx_, zero_idx_, crcs_;
  std::vector<const std::uint8_t*> data_ptr_, copy_ptr_;
  std::vector<ByteSpan> parts_;
  std::vector<std::uint8_t> gather_, packed_;
  std::unique_ptr<ZSTD_CCtx, ZstdCtxFree> zctx_;
  std::atomic<std::uint64_t>& shared_;  // page bytes done, for progress
  std::atomic<std::uint64_t>& shared_wire_;
};

}  // namespace

Result<void> RamSender::Impl::worker(RoundState& st, std::size_t index) {
  BatchWriter w(*this, *channels[index], index, st.round, st.final, st.done_bytes, st.wire_live);
  std::uint64_t reported_sent = 0, reported_zero = 0, reported_bytes = 0, reported_wire = 0;
  auto report = [&] {
    st.pages_sent += w.sent_ - reported_sent;
    st.pages_zero += w.zero_ - reported_zero;
    st.page_bytes += w.page_bytes_ - reported_bytes;
    st.wire_bytes += w.wire() - reported_wire;
    reported_sent = w.sent_;
    reported_zero = w.zero_;
    reported_bytes = w.page_bytes_;
    reported_wire = w.wire();
  };
  while (!st.stop.load(std::memory_order_relaxed)) {
    const std::size_t k = st.next_chunk.fetch_add(1);
    if (k >= st.chunks.size()) break;
    const Chunk& c = st.chunks[k];
    const PageBitmap& bits = st.set->regions[c.region];
    for (std::uint64_t p = bits.next_set(c.first); p < c.end; p = bits.next_set(p + 1))
      SW_CHECK(w.add(c.region, p));
    report();
  }
  if (st.stop.load()) return {};
  SW_CHECK(w.end_round());
  report();
  return {};
}

Result<RamRoundStats> RamSender::Impl::run_round(const DirtySet& set, bool final) {
  RoundState st;
  st.set = &set;
  st.round = round;
  st.final = final;
  std::uint64_t planned_bytes = 0;
  // At least 16 chunks per channel so the channels finish together, at most
  // 16 MiB each, at least one batch each.
  const std::uint64_t spread = set.bytes(regions) / (channels.size() * 16);
  const std::uint64_t chunk_bytes =
      std::clamp<std::uint64_t>(spread, std::max<std::uint64_t>(opt.batch_bytes, 4096), kChunkBytes);
  for (std::uint32_t r = 0; r < regions.size(); ++r) {
    const std::uint64_t pages = regions[r].page_count();
    const std::uint64_t step = std::max<std::uint64_t>(1, chunk_bytes / regions[r].page_size);
    for (std::uint64_t first = 0; first < pages; first += step) {
      const std::uint64_t end = std::min(pages, first + step);
      if (set.regions[r].next_set(first) < end) st.chunks.push_back({r, first, end});
    }
    planned_bytes += set.regions[r].count() * regions[r].page_size;
  }
  const std::uint64_t planned_pages = set.pages();

  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  st.running = static_cast<unsigned>(channels.size());
  for (std::size_t i = 0; i < channels.size(); ++i)
    threads.emplace_back([this, &st, i] {
      auto r = worker(st, i);
      std::lock_guard lock(st.mu);
      if (!r && !st.error) {
        st.error = r.error();
        if (r.error().message != "cancelled")
          st.error->message = fmt::format("data channel {} ({}): {}", i, channels[i]->peer(),
                                          r.error().message);
        st.stop = true;
        abort_channels();  // the others would block on a peer that gave up
      }
      if (--st.running == 0) st.cv.notify_all();
    });

  auto emit = [&](bool done) {
    if (!progress) return;
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    RamProgress p;
    p.round = round;
    p.final = final;
    p.round_page_bytes = done ? planned_bytes : std::min(planned_bytes, st.done_bytes.load());
    p.round_page_bytes_planned = planned_bytes;
    p.total_wire_bytes = total_wire + st.wire_live.load();
    p.total_page_bytes = total_page_bytes + p.round_page_bytes;
    p.rate = secs > 0 ? static_cast<double>(p.round_page_bytes) / secs : 0;
    p.remaining_dirty_bytes = planned_bytes - p.round_page_bytes;
    p.expected_downtime = p.rate > 0 ? static_cast<double>(p.remaining_dirty_bytes) / p.rate : 0;
    progress(p);
  };
  {
    std::unique_lock lock(st.mu);
    while (st.running > 0) {
      st.cv.wait_for(lock, std::chrono::milliseconds(100));
      if (is_cancelled() && !st.stop) {
        st.stop = true;
        abort_channels();
      }
      if (st.running > 0) {
        lock.unlock();
        emit(false);
        lock.lock();
      }
    }
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

  if (is_cancelled() && !st.error) st.error = make_error(Errc::io_error, "cancelled");
  if (st.error) {
    if (st.error->message == "cancelled")
      st.error->message = fmt::format("memory transfer cancelled in round {}", round);
    broken = st.error;
    tracker.stop();
    return fail(*st.error);
  }
  RamRoundStats s;
  s.round = round;
  s.final = final;
  s.pages_sent = st.pages_sent;
  s.pages_zero = st.pages_zero;
  s.pages_skipped = regions.total_pages() - planned_pages;
  s.page_bytes = st.page_bytes;
  s.wire_bytes = st.wire_bytes;
  s.seconds = secs;
  emit(true);
  total_wire += s.wire_bytes;
  total_page_bytes += planned_bytes;
  total_seconds += secs;
  if (secs > 0) last_rate = static_cast<double>(planned_bytes) / secs;
  ++round;
  return s;
}

RamSender::RamSender(const RegionSet& regions, DirtyTracker& tracker, std::vector<Channel*> channels,
                     RamSendOptions options)
    : impl_(std::make_unique<Impl>(regions, tracker, std::move(channels), options)) {}

RamSender::~RamSender() {
  if (impl_->started) impl_->tracker.stop();
}

void RamSender::on_progress(RamProgressFn fn) { impl_->progress = std::move(fn); }

namespace {
Result<void> usable(const RamSender::Impl& s) {
  if (s.broken) return fail(Errc::io_error, fmt::format("the memory transfer already failed: {}",
                                                        s.broken->message));
  if (s.finished) return fail(Errc::invalid_value, "the final round was already sent");
  if (s.channels.empty()) return fail(Errc::invalid_value, "no data channel to send memory on");
  for (auto* c : s.channels)
    if (!c || !c->is_open()) return fail(Errc::invalid_value, "a data channel is closed");
  return {};
}
}  // namespace

Result<std::uint64_t> RamSender::dirty_bytes() {
  SW_CHECK(usable(*impl_));
  if (!impl_->started) return impl_->regions.total_bytes();
  SW_TRY(d, impl_->tracker.collect());
  impl_->pending.merge(d);
  return impl_->pending.bytes(impl_->regions);
}

Result<RamRoundStats> RamSender::send_round() {
  SW_CHECK(usable(*impl_));
  Impl& s = *impl_;
  DirtySet set;
  if (!s.started) {
    SW_CHECK(s.tracker.start(s.regions));
    s.started = true;
    set = DirtySet::all_of(s.regions);
  } else {
    SW_TRY(d, s.tracker.collect());
    set = std::move(s.pending);
    set.merge(d);
  }
  s.pending = DirtySet::empty_for(s.regions);
  return s.run_round(set, false);
}

Result<RamRoundStats> RamSender::send_final() {
  SW_CHECK(usable(*impl_));
  Impl& s = *impl_;
  DirtySet set;
  if (!s.started) {
    set = DirtySet::all_of(s.regions);
  } else {
    SW_TRY(d, s.tracker.collect());
    set = std::move(s.pending);
    set.merge(d);
  }
  s.finished = true;
  // The tracker stays on: lifting write protection walks every page of every
  // region (tens of ms per GiB for uffd-wp) and must not lengthen the stop.
  // stop_tracking() or the destructor does it after the switchover.
  return s.run_round(set, true);
}

void RamSender::stop_tracking() noexcept {
  if (impl_->started) impl_->tracker.stop();
  impl_->started = false;
}

void RamSender::cancel() noexcept {
  impl_->cancelled.store(true);
  impl_->abort_channels();
}

std::uint64_t RamSender::rounds_sent() const { return impl_->round; }

double RamSender::measured_bandwidth() const {
  return impl_->total_seconds > 0
             ? static_cast<double>(impl_->total_page_bytes) / impl_->total_seconds
             : 0;
}

}  // namespace statewire
