// Bulk memory over TCP loopback: RamSender -> RamReceiver with 1 and 2 data
// channels, next to a plain socket copy of the same bytes (send() from the
// source buffer, recv() into a destination buffer) with 1 and 2 streams.
//
// Each iteration moves SW_BENCH_MIB (default 1024) MiB of random bytes, so
// every page travels in full; bytes_per_second is page bytes per second.
// The receiver (and its staging) is created outside the timed part, as a
// destination is before memory flows; commit is timed apart (commit_ms), and
// so is the end-to-end digest (digest_src_ms, verify_dst_ms).
// Run: build/bench/ram_transfer_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "memory/page_wire.hpp"
#include "statewire/channel.hpp"
#include "statewire/ram_transfer.hpp"

namespace {

using namespace statewire;
using Clock = std::chrono::steady_clock;

std::size_t bench_bytes() {
  const char* e = std::getenv("SW_BENCH_MIB");
  const std::size_t mib = e ? std::strtoull(e, nullptr, 10) : 1024;
  return (mib ? mib : 1024) << 20;
}

std::uint8_t* map_bytes(std::size_t n) {
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) std::abort();
  return static_cast<std::uint8_t*>(p);
}

// The source: random bytes, made once.
std::uint8_t* source() {
  static std::uint8_t* src = [] {
    const std::size_t n = bench_bytes();
    std::uint8_t* p = map_bytes(n);
    std::mt19937_64 rng(42);
    for (std::size_t at = 0; at < n; at += 8) {
      const std::uint64_t v = rng();
      std::memcpy(p + at, &v, 8);
    }
    return p;
  }();
  return src;
}

std::uint8_t* destination() {
  static std::uint8_t* dst = map_bytes(bench_bytes());
  return dst;
}

struct Links {
  std::vector<Channel> out, in;
};

Links connect_tcp(int n) {
  auto where = parse_endpoint("tcp:127.0.0.1:0");
  auto listener = Listener::open(*where);
  if (!listener) std::abort();
  Links l;
  for (int i = 0; i < n; ++i) {
    auto c = connect(listener->local(), std::chrono::seconds(5));
    auto s = listener->accept(std::chrono::seconds(5));
    if (!c || !s) std::abort();
    c->set_timeout(std::chrono::seconds(60));
    s->set_timeout(std::chrono::seconds(60));
    l.out.push_back(std::move(*c));
    l.in.push_back(std::move(*s));
  }
  return l;
}

// The plain copy: each stream sends its contiguous share in 1 MiB send()s and
// the other end recv()s it into place.
void BM_PlainSocketCopy(benchmark::State& state) {
  const int streams = static_cast<int>(state.range(0));
  const std::size_t n = bench_bytes();
  std::uint8_t* src = source();
  std::uint8_t* dst = destination();
  for (auto _ : state) {
    Links l = connect_tcp(streams);
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    const std::size_t share = n / static_cast<std::size_t>(streams);
    for (int i = 0; i < streams; ++i) {
      const std::size_t from = share * static_cast<std::size_t>(i);
      threads.emplace_back([&, i, from] {
        const int fd = l.out[static_cast<std::size_t>(i)].fd();
        for (std::size_t at = from; at < from + share;) {
          const ssize_t k = ::send(fd, src + at, std::min<std::size_t>(1 << 20, from + share - at), MSG_NOSIGNAL);
          if (k <= 0) std::abort();
          at += static_cast<std::size_t>(k);
        }
      });
      threads.emplace_back([&, i, from] {
        const int fd = l.in[static_cast<std::size_t>(i)].fd();
        for (std::size_t at = from; at < from + share;) {
          const ssize_t k = ::recv(fd, dst + at, from + share - at, 0);
          if (k <= 0) std::abort();
          at += static_cast<std::size_t>(k);
        }
      });
    }
    for (auto& t : threads) t.join();
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  if (std::memcmp(src, dst, n) != 0) state.SkipWithError("the copy differs");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_RamTransfer(benchmark::State& state) {
  const int channels = static_cast<int>(state.range(0));
  const auto compression = static_cast<Compression>(state.range(1));
  const std::size_t n = bench_bytes();
  RegionSet src_regions, dst_regions;
  if (!src_regions.add({"ram", source(), n, 4096}) || !dst_regions.add({"ram", destination(), n, 4096, state.range(2) != 0}))
    std::abort();
  double commit_seconds = 0, digest_seconds[2] = {0, 0};
  std::uint64_t wire = 0;
  for (auto _ : state) {
    Links l = connect_tcp(channels);
    std::vector<Channel*> out, in;
    for (auto& c : l.out) out.push_back(&c);
    for (auto& c : l.in) in.push_back(&c);
    ProgramDirtyTracker tracker;
    RamSendOptions opt{.compression = compression, .page_checksums = state.range(3) != 0};
    if (const char* e = std::getenv("SW_BATCH_KIB")) opt.batch_bytes = static_cast<std::uint32_t>(std::strtoul(e, nullptr, 10) << 10);
    RamSender tx(src_regions, tracker, out, opt);
    RamReceiver rx(dst_regions, in);
    if (!rx.prepare()) std::abort();
    Result<std::vector<RamReceivedRound>> got;
    const auto t0 = Clock::now();
    std::thread receiver([&] { got = rx.receive_all(); });
    // The full pass as a session sends it (a live round; page CRCs only
    // when asked), then the stop-and-copy round, empty here.
    auto sent = tx.send_round();
    auto last = sent ? tx.send_final() : Result<RamRoundStats>(sent);
    receiver.join();
    if (!last) sent = last;
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
    if (!sent || !got) {
      state.SkipWithError((!sent ? sent.error() : got.error()).to_string().c_str());
      return;
    }
    wire += sent->wire_bytes;
    // The end-to-end digest, untimed: without page CRCs each side computes
    // every page's CRC once (in a session, between rounds, both sides at the
    // same time); with them it reuses the wire's.
    const auto g0 = Clock::now();
    auto digest = tx.memory_digest();
    const auto g1 = Clock::now();
    if (!digest || !rx.verify(*digest)) std::abort();
    digest_seconds[0] += std::chrono::duration<double>(g1 - g0).count();
    digest_seconds[1] += std::chrono::duration<double>(Clock::now() - g1).count();
    const auto c0 = Clock::now();
    if (!rx.commit()) std::abort();
    commit_seconds += std::chrono::duration<double>(Clock::now() - c0).count();
  }
  if (std::memcmp(source(), destination(), n) != 0) state.SkipWithError("the copy differs");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.counters["commit_ms"] = 1e3 * commit_seconds / static_cast<double>(state.iterations());
  state.counters["digest_src_ms"] = 1e3 * digest_seconds[0] / static_cast<double>(state.iterations());
  state.counters["verify_dst_ms"] = 1e3 * digest_seconds[1] / static_cast<double>(state.iterations());
  state.counters["wire_ratio"] = static_cast<double>(wire) / static_cast<double>(state.iterations() * n);
}

// The per-page CRC32C both ends compute, over the 1 GiB source (from memory,
// as in a transfer), four pages interleaved.
void BM_PageCrc(benchmark::State& state) {
  const std::size_t n = bench_bytes();
  std::uint8_t* src = source();
  std::vector<const std::uint8_t*> ptrs;
  for (std::size_t at = 0; at < n; at += 4096) ptrs.push_back(src + at);
  std::vector<std::uint32_t> out(ptrs.size());
  for (auto _ : state) {
    statewire::detail::crc_pages(ptrs.data(), ptrs.size(), 4096, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_PageCrc)->Unit(benchmark::kMillisecond);

BENCHMARK(BM_PlainSocketCopy)->ArgName("streams")->Arg(1)->Arg(2)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
// channels, compression (0 none, 1 zstd, 2 lz4), commit by moving staging
// pages (1) or copying (0), a CRC32C per page (1) or not (0)
BENCHMARK(BM_RamTransfer)->ArgNames({"channels", "compression", "remap", "crc"})
    ->Args({1, 0, 1, 1})->Args({2, 0, 1, 1})->Args({1, 0, 1, 0})->Args({2, 0, 1, 0})->Args({1, 0, 0, 1})
    ->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
