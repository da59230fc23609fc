// What a stream says about each page of a RAM block, kept as runs of pages of
// one kind (zero, filled, data, not sent) rather than one entry per page, so
// the RAM map of a 1 GiB block costs a few runs, not 262144 entries. Pages
// may arrive in any order and more than once (QEMU resends dirty pages in
// later passes); the last record for a page wins, as when QEMU loads it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace statewire::report {

enum class PageKind : std::uint8_t { not_sent, zero, filled, data };
const char* page_kind_name(PageKind k) noexcept;  // "not sent", "zero", "filled", "data"

struct PageRun {
  std::uint64_t first = 0;  // page index in the block
  std::uint64_t pages = 0;
  PageKind kind = PageKind::not_sent;
};

// One block's pages, painted record by record.
class PageRuns {
 public:
  // Pages [first, first + count) are now of `kind`.
  void paint(std::uint64_t first, std::uint64_t count, PageKind kind);
  // Runs in page order, neighbours of one kind merged, with not_sent runs in
  // the gaps and up to `total_pages` (pages beyond it, if any were sent,
  // are kept: a stream may describe a block too small for what it sends).
  std::vector<PageRun> runs(std::uint64_t total_pages) const;
  std::size_t size() const noexcept { return runs_.size(); }

 private:
  struct Span {
    std::uint64_t end;
    PageKind kind;
  };
  std::map<std::uint64_t, Span> runs_;  // first page -> [first, end)
};

struct PageCounts {
  std::uint64_t not_sent = 0, zero = 0, filled = 0, data = 0;
};
PageCounts count_pages(const std::vector<PageRun>& runs);

// At most `buckets` segments for drawing: the runs themselves when there are
// few enough, else equal shares of the block's pages, each of the kind that
// covers most of it (neighbours of one kind merged).
struct Segment {
  std::uint64_t first = 0, pages = 0;
  PageKind kind = PageKind::not_sent;
};
std::vector<Segment> segments(const std::vector<PageRun>& runs, std::size_t buckets);

}  // namespace statewire::report
