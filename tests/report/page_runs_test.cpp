// RAM maps as runs: pages painted in any order, resent pages win, gaps are
// "not sent", and drawing a 1 GiB block costs a bounded number of segments.
#include "report/page_runs.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace statewire::report {
namespace {

// The same map, one entry per page: what the runs must agree with.
std::vector<PageKind> expand(const std::vector<PageRun>& runs) {
  std::vector<PageKind> out;
  for (const auto& r : runs) {
    EXPECT_EQ(r.first, out.size()) << "runs are contiguous";
    EXPECT_GT(r.pages, 0u);
    out.insert(out.end(), r.pages, r.kind);
  }
  return out;
}

TEST(PageRuns, InOrderPassMergesNeighboursOfOneKind) {
  PageRuns p;
  for (std::uint64_t i = 0; i < 100; ++i) p.paint(i, 1, i < 40 ? PageKind::zero : PageKind::data);
  EXPECT_EQ(p.size(), 2u);
  const auto runs = p.runs(128);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].pages, 40u);
  EXPECT_EQ(runs[1].kind, PageKind::data);
  EXPECT_EQ(runs[2].kind, PageKind::not_sent);
  EXPECT_EQ(runs[2].pages, 28u);
}

TEST(PageRuns, ResentPagesWinAndGapsAreNotSent) {
  PageRuns p;
  p.paint(0, 10, PageKind::zero);
  p.paint(20, 10, PageKind::zero);
  p.paint(5, 1, PageKind::data);    // inside a run: splits it
  p.paint(8, 14, PageKind::filled);  // across a gap and into the next run
  p.paint(0, 1, PageKind::data);    // at a run's start
  const auto pages = expand(p.runs(32));
  ASSERT_EQ(pages.size(), 32u);
  EXPECT_EQ(pages[0], PageKind::data);
  EXPECT_EQ(pages[1], PageKind::zero);
  EXPECT_EQ(pages[5], PageKind::data);
  EXPECT_EQ(pages[7], PageKind::zero);
  for (int i = 8; i < 22; ++i) EXPECT_EQ(pages[i], PageKind::filled) << i;
  for (int i = 22; i < 30; ++i) EXPECT_EQ(pages[i], PageKind::zero) << i;
  EXPECT_EQ(pages[30], PageKind::not_sent);
}

TEST(PageRuns, RandomPaintsAgreeWithAPageByPageMap) {
  std::mt19937_64 rng(17);
  for (int round = 0; round < 50; ++round) {
    PageRuns p;
    std::vector<PageKind> ref(300, PageKind::not_sent);
    for (int k = 0; k < 200; ++k) {
      const std::uint64_t first = rng() % 300, count = 1 + rng() % 12;
      const auto kind = static_cast<PageKind>(1 + rng() % 3);
      p.paint(first, count, kind);
      for (std::uint64_t i = first; i < first + count && i < ref.size(); ++i) ref[i] = kind;
    }
    auto pages = expand(p.runs(300));
    pages.resize(300, PageKind::not_sent);  // runs may end past 300 (pages beyond the block)
    ASSERT_EQ(pages, ref) << "round " << round;
    // Neighbouring runs never share a kind.
    const auto runs = p.runs(300);
    for (std::size_t i = 1; i < runs.size(); ++i) EXPECT_NE(runs[i].kind, runs[i - 1].kind);
  }
}

TEST(PageRuns, GigabyteBlockOfAlternatingPagesDrawsInBoundedSegments) {
  constexpr std::uint64_t kPages = (1ull << 30) / 4096;
  PageRuns p;
  for (std::uint64_t i = 0; i < kPages; ++i) p.paint(i, 1, i % 2 ? PageKind::data : PageKind::zero);
  const auto runs = p.runs(kPages);
  EXPECT_EQ(runs.size(), kPages);
  const auto segs = segments(runs, 400);
  EXPECT_LE(segs.size(), 400u);
  std::uint64_t covered = 0;
  for (const auto& s : segs) {
    EXPECT_EQ(s.first, covered);
    covered += s.pages;
  }
  EXPECT_EQ(covered, kPages);
  const auto c = count_pages(runs);
  EXPECT_EQ(c.data, kPages / 2);
  EXPECT_EQ(c.zero, kPages / 2);
}

TEST(PageRuns, SegmentsTakeTheKindCoveringMostOfEachShare) {
  // 1000 pages: 900 data then 100 zero, with a lone zero page every 10 pages.
  std::vector<PageRun> runs;
  for (std::uint64_t i = 0; i < 900; i += 10) {
    runs.push_back({i, 9, PageKind::data});
    runs.push_back({i + 9, 1, PageKind::zero});
  }
  runs.back().pages += 100;
  const auto segs = segments(runs, 10);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].kind, PageKind::data);
  EXPECT_EQ(segs[0].pages, 900u);
  EXPECT_EQ(segs[1].kind, PageKind::zero);
}

}  // namespace
}  // namespace statewire::report
