// RamSender: rounds of pages over one thread per data channel.
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "memory/batch_writer.hpp"
#include "memory/page_digest.hpp"
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
  PageDigest digest;  // page CRCs for the end-to-end digest
  BatchShared shared;

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
      : regions(r), tracker(t), channels(std::move(c)), opt(o), bucket(o.bandwidth_limit),
        shared{regions, opt, bucket, [this] { return is_cancelled(); }, digest} {}

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

Result<void> RamSender::Impl::worker(RoundState& st, std::size_t index) {
  BatchWriter w(shared, *channels[index], st.round, st.final, st.done_bytes, st.wire_live);
  std::uint64_t reported_sent = 0, reported_zero = 0, reported_bytes = 0, reported_wire = 0;
  auto report = [&] {
    st.pages_sent += w.sent() - reported_sent;
    st.pages_zero += w.zero() - reported_zero;
    st.page_bytes += w.page_bytes() - reported_bytes;
    st.wire_bytes += w.wire() - reported_wire;
    reported_sent = w.sent();
    reported_zero = w.zero();
    reported_bytes = w.page_bytes();
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
  // Every page of the round has its wire CRC in the digest table now.
  if (opt.page_checksums || (final && opt.final_round_checksums)) digest.learn(set);
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
  impl_->digest.forget(d);
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
    s.digest.reset(s.regions);
    set = DirtySet::all_of(s.regions);
  } else {
    SW_TRY(d, s.tracker.collect());
    s.digest.forget(d);
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
    if (!s.digest.ready()) s.digest.reset(s.regions);
    set = DirtySet::all_of(s.regions);
  } else {
    SW_TRY(d, s.tracker.collect());
    s.digest.forget(d);
    set = std::move(s.pending);
    set.merge(d);
  }
  s.finished = true;
  // The tracker stays on: lifting write protection walks every page of every
  // region (tens of ms per GiB for uffd-wp) and must not lengthen the stop.
  // stop_tracking() or the destructor does it after the switchover.
  return s.run_round(set, true);
}

Result<std::uint64_t> RamSender::prepare_digest() {
  Impl& s = *impl_;
  if (s.broken) return fail(Errc::io_error, fmt::format("the memory transfer already failed: {}",
                                                        s.broken->message));
  if (!s.digest.ready()) return std::uint64_t{0};
  std::vector<const std::uint8_t*> bases;
  for (const auto& r : s.regions.regions()) bases.push_back(r.base);
  return s.digest.fill(s.regions, bases);
}

Result<std::vector<std::uint32_t>> RamSender::memory_digest() {
  Impl& s = *impl_;
  if (s.broken) return fail(Errc::io_error, fmt::format("the memory transfer already failed: {}",
                                                        s.broken->message));
  if (!s.finished)
    return fail(Errc::invalid_value, "the memory digest needs the program stopped: call it after send_final()");
  // send_final() collected the last writes, so what is known is current.
  SW_CHECK(prepare_digest());
  return s.digest.digests();
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
