// What dirty tracking costs: per dirtied page (the program's first write to
// a page in a round) and per round (collect), for the program-driven bitmap
// and the library's userfaultfd write-protect tracker, next to a plain write
// and to the mprotect + SIGSEGV scheme we did not choose (measured here on
// its own so docs/memory-transfer.md can compare). Soft-dirty bits are
// measured when the kernel has them (probe_trackers says).
// Run: build/bench/dirty_tracker_bench
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "statewire/dirty_tracker.hpp"

namespace {

using namespace statewire;
constexpr std::size_t kPage = 4096;

struct Area {
  explicit Area(std::size_t pages) : size(pages * kPage) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) std::abort();
    base = static_cast<std::uint8_t*>(p);
    if (!regions.add({"ram", base, size, kPage})) std::abort();
  }
  ~Area() { ::munmap(base, size); }
  std::size_t size;
  std::uint8_t* base;
  RegionSet regions;
};

// Every page written once per iteration; time per page.
void BM_PlainWritePerPage(benchmark::State& state) {
  Area a(16384);
  std::uint8_t v = 0;
  for (auto _ : state) {
    ++v;
    for (std::size_t p = 0; p < 16384; ++p) a.base[p * kPage] = v;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 16384);
}

void BM_ProgramTrackerPerPage(benchmark::State& state) {
  Area a(16384);
  ProgramDirtyTracker t;
  if (!t.start(a.regions)) std::abort();
  std::uint8_t v = 0;
  for (auto _ : state) {
    ++v;
    for (std::size_t p = 0; p < 16384; ++p) {
      a.base[p * kPage] = v;
      t.mark_dirty(0, p * kPage, 1);
    }
    state.PauseTiming();
    if (!t.collect()) std::abort();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * 16384);
}

// The first write to each protected page faults; the kernel unprotects it.
void BM_UffdTrackerPerPage(benchmark::State& state) {
  auto t = make_tracker(TrackerKind::uffd_wp);
  if (!t) {
    state.SkipWithError(t.error().message.c_str());
    return;
  }
  Area a(16384);
  if (!(*t)->start(a.regions)) std::abort();
  std::uint8_t v = 0;
  for (auto _ : state) {
    ++v;
    for (std::size_t p = 0; p < 16384; ++p) a.base[p * kPage] = v;
    benchmark::ClobberMemory();
    state.PauseTiming();
    auto d = (*t)->collect();  // protects them again for the next iteration
    if (!d || d->pages() != 16384) std::abort();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * 16384);
}

// collect() on 1 GiB with range(0) pages dirty, spread evenly.
template <TrackerKind K>
void BM_CollectPerRound(benchmark::State& state) {
  const std::size_t pages = 262144;
  const auto dirty = static_cast<std::size_t>(state.range(0));
  Area a(pages);
  std::unique_ptr<DirtyTracker> t;
  if (K == TrackerKind::program) {
    t = std::make_unique<ProgramDirtyTracker>();
  } else {
    auto m = make_tracker(K);
    if (!m) {
      state.SkipWithError(m.error().message.c_str());
      return;
    }
    t = std::move(*m);
  }
  if (!t->start(a.regions)) std::abort();
  const std::size_t step = dirty ? pages / dirty : pages;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < dirty; ++i) {
      a.base[i * step * kPage] ^= 1;
      if (K == TrackerKind::program)
        static_cast<ProgramDirtyTracker*>(t.get())->mark_dirty(0, i * step * kPage, 1);
    }
    state.ResumeTiming();
    auto d = t->collect();
    if (!d || d->pages() != dirty) std::abort();
  }
  state.counters["dirty_pages"] = static_cast<double>(dirty);
}

// mprotect + SIGSEGV: protect the area, the handler records the page and
// unprotects it. One signal and one mprotect per first write.
std::uint8_t* g_base = nullptr;
std::size_t g_size = 0;
std::uint64_t* g_bits = nullptr;

void on_segv(int, siginfo_t* info, void*) {
  auto* p = static_cast<std::uint8_t*>(info->si_addr);
  if (p < g_base || p >= g_base + g_size) std::abort();
  const std::size_t page = static_cast<std::size_t>(p - g_base) / kPage;
  g_bits[page / 64] |= std::uint64_t{1} << (page % 64);
  ::mprotect(g_base + page * kPage, kPage, PROT_READ | PROT_WRITE);
}

void BM_MprotectSignalPerPage(benchmark::State& state) {
  Area a(16384);
  std::vector<std::uint64_t> bits(16384 / 64);
  g_base = a.base;
  g_size = a.size;
  g_bits = bits.data();
  struct sigaction sa {}, old{};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, &old);
  std::uint8_t v = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ::mprotect(a.base, a.size, PROT_READ);  // the per-round re-protect
    state.ResumeTiming();
    ++v;
    for (std::size_t p = 0; p < 16384; ++p) a.base[p * kPage] = v;
    benchmark::ClobberMemory();
  }
  sigaction(SIGSEGV, &old, nullptr);
  state.SetItemsProcessed(state.iterations() * 16384);
}

BENCHMARK(BM_PlainWritePerPage);
BENCHMARK(BM_ProgramTrackerPerPage);
BENCHMARK(BM_UffdTrackerPerPage);
BENCHMARK(BM_MprotectSignalPerPage);
BENCHMARK(BM_CollectPerRound<TrackerKind::program>)->Arg(0)->Arg(2621)->Arg(262144)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CollectPerRound<TrackerKind::uffd_wp>)->Arg(0)->Arg(2621)->Arg(262144)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
