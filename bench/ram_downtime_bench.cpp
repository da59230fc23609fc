// Downtime of a live transfer: 1 GiB of random memory over TCP loopback
// while a "guest" thread keeps dirtying it at 50 MB/s (SW_DIRTY_MBPS), with
// the pre-copy policy aiming at a 100 ms downtime (SW_DOWNTIME_MS).
//
// Rounds run until the policy says stop; then the guest stops, and the
// downtime is measured from that moment until the destination has received
// the final round, verified the end-to-end digest and committed (memory
// only: a session adds its device state and handshake on top). As in a
// session, both ends compute the page CRCs the wire did not carry between
// rounds (prepare_digest), so the stop pays only for the final round's.
// Counters: downtime_ms (measured), expected_ms (the policy's estimate when
// it stopped), rounds (before the final one), final_MiB (what the final
// round carried), verify_ms (the source's digest and the destination's
// verify, inside the downtime). Arg crc: page CRCs on the wire (1) or not
// (0, a session's default on sockets).
// Run: build/bench/ram_downtime_bench
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "statewire/channel.hpp"
#include "statewire/precopy.hpp"
#include "statewire/ram_transfer.hpp"

namespace {

using namespace statewire;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kPage = 4096;

std::size_t env_or(const char* name, std::size_t fallback) {
  const char* e = std::getenv(name);
  return e && *e ? std::strtoull(e, nullptr, 10) : fallback;
}

std::uint8_t* map_random(std::size_t n, std::uint64_t seed) {
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) std::abort();
  auto* b = static_cast<std::uint8_t*>(p);
  std::mt19937_64 rng(seed);
  for (std::size_t at = 0; at < n; at += 8) {
    const std::uint64_t v = rng();
    std::memcpy(b + at, &v, 8);
  }
  return b;
}

void BM_LiveDowntime(benchmark::State& state) {
  const int channels = static_cast<int>(state.range(0));
  const auto kind = static_cast<TrackerKind>(state.range(1));
  const bool page_crc = state.range(2) != 0;
  const std::size_t n = env_or("SW_BENCH_MIB", 1024) << 20;
  const double dirty_rate = static_cast<double>(env_or("SW_DIRTY_MBPS", 50)) * 1e6;
  const auto target = std::chrono::milliseconds(env_or("SW_DOWNTIME_MS", 100));
  std::uint8_t* src = map_random(n, 7);
  void* d = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (d == MAP_FAILED) std::abort();
  auto* dst = static_cast<std::uint8_t*>(d);
  RegionSet src_regions, dst_regions;
  if (!src_regions.add({"ram", src, n, kPage}) || !dst_regions.add({"ram", dst, n, kPage, true})) std::abort();

  double downtime = 0, expected = 0, rounds = 0, final_mib = 0, collect_s = 0, send_s = 0, recv_s = 0,
         verify_s = 0;
  for (auto _ : state) {
    auto tracker_r = make_tracker(kind);
    if (!tracker_r) {
      state.SkipWithError(tracker_r.error().message.c_str());
      break;
    }
    DirtyTracker& tracker = **tracker_r;
    auto* program = kind == TrackerKind::program ? static_cast<ProgramDirtyTracker*>(&tracker) : nullptr;
    auto listener = Listener::open(*parse_endpoint("tcp:127.0.0.1:0"));
    std::vector<Channel> out, in;
    for (int i = 0; i < channels; ++i) {
      out.push_back(std::move(*connect(listener->local(), std::chrono::seconds(5))));
      in.push_back(std::move(*listener->accept(std::chrono::seconds(5))));
      out.back().set_timeout(std::chrono::seconds(60));
      in.back().set_timeout(std::chrono::seconds(60));
    }
    std::vector<Channel*> outp, inp;
    for (auto& c : out) outp.push_back(&c);
    for (auto& c : in) inp.push_back(&c);
    RamSender tx(src_regions, tracker, outp, {.page_checksums = page_crc});
    RamReceiver rx(dst_regions, inp);
    if (!rx.prepare()) std::abort();
    bool got = false;
    std::thread receiver([&] {
      for (;;) {
        auto r = rx.receive_round();
        if (!r) return;
        if (r->final) break;
        if (!rx.prepare_digest()) return;
      }
      got = true;
    });

    // The guest: dirties `dirty_rate` bytes a second, one page at a time,
    // in 1 ms steps.
    std::atomic<bool> stop{false};
    std::thread guest([&] {
      std::mt19937_64 rng(99);
      const double pages_per_ms = dirty_rate / kPage / 1000.0;
      double owed = 0;
      auto next = Clock::now();
      std::uint64_t counter = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        owed += pages_per_ms;
        for (; owed >= 1; owed -= 1) {
          const std::size_t p = rng() % (n / kPage);
          ++counter;
          std::memcpy(src + p * kPage + (counter % 512) * 8, &counter, 8);
          if (program) program->mark_dirty(0, p * kPage, kPage);
        }
        next += std::chrono::milliseconds(1);
        std::this_thread::sleep_until(next);
      }
    });

    PrecopyController policy({.downtime_target = target, .max_rounds = 30});
    PrecopyDecision decision;
    while (true) {
      auto r = tx.send_round();
      if (!r) {
        state.SkipWithError(r.error().to_string().c_str());
        break;
      }
      policy.record_round(r->page_bytes + r->pages_zero * kPage, r->seconds);
      if (!tx.prepare_digest()) std::abort();
      auto remaining = tx.dirty_bytes();
      if (!remaining) std::abort();
      decision = policy.decide(*remaining);
      if (decision.action == PrecopyDecision::Action::stop_and_copy) break;
    }
    stop = true;
    guest.join();
    const auto t_stop = Clock::now();
    (void)tx.dirty_bytes();
    const auto t_collected = Clock::now();
    auto fin = tx.send_final();
    const auto t_sent = Clock::now();
    auto digest = tx.memory_digest();
    const auto t_digest = Clock::now();
    receiver.join();
    const auto t_received = Clock::now();
    const bool verified = got && digest && rx.verify(*digest);
    verify_s += std::chrono::duration<double>(t_digest - t_sent).count() +
                std::chrono::duration<double>(Clock::now() - t_received).count();
    if (!fin || !verified || !rx.commit()) {
      state.SkipWithError("the final round failed");
      break;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t_stop).count();
    collect_s += std::chrono::duration<double>(t_collected - t_stop).count();
    send_s += std::chrono::duration<double>(t_sent - t_collected).count();
    recv_s += std::chrono::duration<double>(t_received - t_sent).count();
    state.SetIterationTime(secs);
    downtime += secs;
    expected += decision.expected_downtime;
    rounds += static_cast<double>(policy.rounds());
    final_mib += static_cast<double>(fin->page_bytes) / (1 << 20);
    if (std::memcmp(src, dst, n) != 0) state.SkipWithError("destination differs after commit");
  }
  const auto it = static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
  state.counters["downtime_ms"] = 1e3 * downtime / it;
  state.counters["expected_ms"] = 1e3 * expected / it;
  state.counters["rounds"] = rounds / it;
  state.counters["final_MiB"] = final_mib / it;
  // Where the stop went: collecting the dirty set, sending the final round,
  // the receiver finishing after the sender (commit is the rest).
  state.counters["collect_ms"] = 1e3 * collect_s / it;
  state.counters["send_ms"] = 1e3 * send_s / it;
  state.counters["recv_tail_ms"] = 1e3 * recv_s / it;
  state.counters["verify_ms"] = 1e3 * verify_s / it;
  ::munmap(src, n);
  ::munmap(dst, n);
}

BENCHMARK(BM_LiveDowntime)
    ->ArgNames({"channels", "tracker", "crc"})
    ->Args({1, static_cast<int>(TrackerKind::uffd_wp), 0})
    ->Args({2, static_cast<int>(TrackerKind::uffd_wp), 0})
    ->Args({1, static_cast<int>(TrackerKind::program), 0})
    ->Args({1, static_cast<int>(TrackerKind::uffd_wp), 1})
    ->UseManualTime()
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
