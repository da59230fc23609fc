// The library-managed tracker (userfaultfd write-protect) on real memory,
// written by another thread; and a live transfer that relies on it.
#include <gtest/gtest.h>

#include <future>
#include <random>
#include <set>
#include <thread>

#include "memory/memory_test_util.hpp"
#include "statewire/dirty_tracker.hpp"
#include "statewire/ram_transfer.hpp"

namespace statewire {
namespace {

using namespace std::chrono_literals;
using testing::PageBuffer;
constexpr std::size_t kPage = 4096;

std::unique_ptr<DirtyTracker> uffd_or_skip() {
  auto t = make_tracker(TrackerKind::uffd_wp);
  if (!t) return nullptr;
  return std::move(*t);
}

#define SKIP_WITHOUT_UFFD(t)                                                              \
  if (!(t))                                                                               \
    GTEST_SKIP() << "uffd-wp unavailable here: "                                          \
                 << make_tracker(TrackerKind::uffd_wp).error().message

TEST(UffdTracker, ReportsEveryPageAThreadWroteAndNoOther) {
  auto tracker = uffd_or_skip();
  SKIP_WITHOUT_UFFD(tracker);
  PageBuffer buf(2048 * kPage);
  testing::fill_random(buf, 31);  // populated pages
  PageBuffer fresh(64 * kPage);   // never touched
  RegionSet regions;
  ASSERT_TRUE(regions.add({"ram", buf.data(), buf.size(), kPage}));
  ASSERT_TRUE(regions.add({"fresh", fresh.data(), fresh.size(), kPage}));
  ASSERT_TRUE(tracker->start(regions));
  auto first = tracker->collect();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->pages(), 0u) << "nothing written since start";

  for (int round = 0; round < 3; ++round) {
    std::set<std::uint64_t> wrote;
    std::mt19937_64 rng(static_cast<unsigned>(round));
    for (int i = 0; i < 300; ++i) wrote.insert(rng() % 2048);
    std::thread writer([&] {
      for (auto p : wrote) buf.data()[p * kPage + (p % kPage)] ^= 0xff;
      fresh.data()[5 * kPage + 7] = static_cast<std::uint8_t>(round + 1);
    });
    writer.join();
    auto d = tracker->collect();
    ASSERT_TRUE(d) << d.error().to_string();
    std::set<std::uint64_t> seen;
    for (auto p = d->regions[0].next_set(0); p < 2048; p = d->regions[0].next_set(p + 1)) seen.insert(p);
    EXPECT_EQ(seen, wrote) << "round " << round;
    EXPECT_EQ(d->regions[1].count(), 1u);
    EXPECT_TRUE(d->regions[1].test(5));
    // Reading is not writing.
    volatile std::uint8_t sink = 0;
    for (std::size_t i = 0; i < buf.size(); i += kPage) sink = sink + buf.data()[i];
    auto clean = tracker->collect();
    ASSERT_TRUE(clean);
    EXPECT_EQ(clean->pages(), 0u) << "round " << round;
  }
  tracker->stop();
  buf.data()[0] = 1;  // plain memory again: no fault, no error
  EXPECT_FALSE(tracker->collect());
}

TEST(UffdTracker, RefusesRegionsNotAlignedToSystemPages) {
  auto tracker = uffd_or_skip();
  SKIP_WITHOUT_UFFD(tracker);
  PageBuffer buf(16 * kPage);
  RegionSet regions;
  ASSERT_TRUE(regions.add({"odd", buf.data() + 512, 8 * 512, 512}));
  auto r = tracker->start(regions);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("aligned to the system page"), std::string::npos);
}

TEST(UffdTracker, LiveTransferWhileAThreadWritesEndsEqualAfterTheFinalRound) {
  auto tracker = uffd_or_skip();
  SKIP_WITHOUT_UFFD(tracker);
  PageBuffer src(8192 * kPage), dst(8192 * kPage);
  testing::fill_random(src, 32, 9);
  auto src_regions = testing::one_region(src);
  auto dst_regions = testing::one_region(dst);
  auto [a, b] = testing::channel_pair();
  auto [a2, b2] = testing::channel_pair();
  RamSender tx(src_regions, *tracker, {&a, &a2}, {.batch_bytes = 128 * 1024});
  RamReceiver rx(dst_regions, {&b, &b2});
  auto fut = std::async(std::launch::async, [&] { return rx.receive_all(); });
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> writes{0};
  // The "program": keeps writing random pages, with no call to the library.
  std::thread program([&] {
    std::mt19937_64 rng(33);
    while (!stop.load()) {
      const std::uint64_t p = rng() % 8192;
      src.data()[p * kPage + rng() % kPage] = static_cast<std::uint8_t>(rng());
      ++writes;
    }
  });
  std::uint64_t torn_possible = 0;
  for (int i = 0; i < 4; ++i) {
    auto r = tx.send_round();
    ASSERT_TRUE(r) << r.error().to_string();
    torn_possible += r->pages_sent;
  }
  stop = true;
  program.join();
  auto fin = tx.send_final();
  ASSERT_TRUE(fin) << fin.error().to_string();
  auto rounds = fut.get();
  ASSERT_TRUE(rounds) << rounds.error().to_string();
  EXPECT_EQ(rounds->size(), 5u);
  EXPECT_GT(writes.load(), 0u);
  ASSERT_TRUE(rx.commit());
  EXPECT_TRUE(src.same_as(dst));
}

}  // namespace
}  // namespace statewire
