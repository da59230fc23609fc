// The program-driven tracker and page bitmaps.
#include <gtest/gtest.h>

#include <thread>

#include "memory/memory_test_util.hpp"
#include "statewire/dirty_tracker.hpp"

namespace statewire {
namespace {

using testing::PageBuffer;

std::vector<std::uint64_t> pages_of(const PageBitmap& b) {
  std::vector<std::uint64_t> out;
  for (auto p = b.next_set(0); p < b.pages(); p = b.next_set(p + 1)) out.push_back(p);
  return out;
}

TEST(PageBitmap, SetAllCountsOnlyRealPages) {
  PageBitmap b(70);
  b.set_all();
  EXPECT_EQ(b.count(), 70u);
  EXPECT_EQ(b.next_set(69), 69u);
  EXPECT_EQ(b.next_set(70), 70u);
  b.clear_all();
  EXPECT_TRUE(b.none());
  b.set(3);
  b.set(64);
  EXPECT_EQ(pages_of(b), (std::vector<std::uint64_t>{3, 64}));
}

TEST(ProgramDirtyTracker, MarksPagesOverlappingARangeAndResetsOnCollect) {
  PageBuffer buf(300 * 4096);
  auto regions = testing::one_region(buf);
  ProgramDirtyTracker t;
  t.mark_dirty(0, 0, 4096);  // before start: ignored
  ASSERT_TRUE(t.start(regions));
  t.mark_dirty(0, 4095, 2);            // pages 0 and 1
  t.mark_dirty(0, 62 * 4096, 3 * 4096);  // 62, 63, 64: across a bitmap word
  t.mark_dirty(0, 299 * 4096 + 10, 1 << 20);  // clipped at the end
  t.mark_dirty(0, 400 * 4096, 1);      // past the end: ignored
  t.mark_dirty(7, 0, 1);               // unknown region: ignored
  t.mark_dirty_at(buf.data() + 100 * 4096 + 5, 1);
  auto d = t.collect();
  ASSERT_TRUE(d);
  EXPECT_EQ(pages_of(d->regions[0]), (std::vector<std::uint64_t>{0, 1, 62, 63, 64, 100, 299}));
  EXPECT_EQ(d->bytes(regions), 7u * 4096);
  auto again = t.collect();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->pages(), 0u);
  t.stop();
  t.mark_dirty(0, 0, 1);
  EXPECT_FALSE(t.collect());
}

TEST(ProgramDirtyTracker, ConcurrentMarkersLoseNothing) {
  PageBuffer buf(4096 * 4096);
  auto regions = testing::one_region(buf);
  ProgramDirtyTracker t;
  ASSERT_TRUE(t.start(regions));
  std::vector<std::thread> threads;
  DirtySet seen = DirtySet::empty_for(regions);
  std::atomic<bool> done{false};
  // Four writers mark interleaved pages while the main thread keeps collecting.
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (std::uint64_t p = static_cast<std::uint64_t>(k); p < 4096; p += 4) t.mark_dirty(0, p * 4096, 1);
    });
  std::thread collector([&] {
    while (!done.load()) {
      auto d = t.collect();
      if (d) seen.merge(*d);
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  collector.join();
  auto last = t.collect();
  ASSERT_TRUE(last);
  seen.merge(*last);
  EXPECT_EQ(seen.pages(), 4096u);
}

TEST(DirtyTrackers, ProbeSaysWhyEachIsOrIsNotAvailable) {
  const auto& probes = probe_trackers();
  ASSERT_EQ(probes.size(), 4u);
  for (const auto& p : probes) {
    EXPECT_FALSE(p.reason.empty()) << tracker_name(p.kind);
    auto t = make_tracker(p.kind);
    EXPECT_EQ(static_cast<bool>(t), p.available) << tracker_name(p.kind) << ": " << p.reason;
    if (!t) {
      EXPECT_EQ(t.error().code, Errc::unsupported);
      EXPECT_NE(t.error().message.find(p.reason), std::string::npos);
    }
  }
  EXPECT_EQ(*parse_tracker_kind("uffd-wp"), TrackerKind::uffd_wp);
  EXPECT_FALSE(parse_tracker_kind("magic"));
}

}  // namespace
}  // namespace statewire
