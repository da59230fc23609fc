#include "report/page_runs.hpp"

#include <array>
#include <limits>

namespace statewire::report {

const char* page_kind_name(PageKind k) noexcept {
  switch (k) {
    case PageKind::not_sent: return "not sent";
    case PageKind::zero: return "zero";
    case PageKind::filled: return "filled";
    case PageKind::data: return "data";
  }
  return "?";
}

void PageRuns::paint(std::uint64_t first, std::uint64_t count, PageKind kind) {
  if (count == 0) return;
  const std::uint64_t end =
      first > std::numeric_limits<std::uint64_t>::max() - count ? std::numeric_limits<std::uint64_t>::max()
                                                                : first + count;
  // The usual case: a pass over the block in address order.
  if (runs_.empty()) {
    runs_.emplace(first, Span{end, kind});
    return;
  }
  auto last = std::prev(runs_.end());
  if (first >= last->second.end) {
    if (first == last->second.end && last->second.kind == kind)
      last->second.end = end;
    else
      runs_.emplace(first, Span{end, kind});
    return;
  }
  // A page sent again: cut what it covers out of the runs there.
  auto it = runs_.upper_bound(first);
  if (it != runs_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > first) {
      const Span tail = prev->second;
      if (tail.end > end) runs_.emplace(end, tail);
      if (prev->first == first)
        runs_.erase(prev);
      else
        prev->second.end = first;
    }
  }
  it = runs_.lower_bound(first);
  while (it != runs_.end() && it->first < end) {
    if (it->second.end > end) {
      const Span rest = it->second;
      runs_.erase(it);
      runs_.emplace(end, rest);
      break;
    }
    it = runs_.erase(it);
  }
  auto ins = runs_.emplace(first, Span{end, kind}).first;
  if (auto next = std::next(ins); next != runs_.end() && next->first == end && next->second.kind == kind) {
    ins->second.end = next->second.end;
    runs_.erase(next);
  }
  if (ins != runs_.begin()) {
    auto prev = std::prev(ins);
    if (prev->second.end == first && prev->second.kind == kind) {
      prev->second.end = ins->second.end;
      runs_.erase(ins);
    }
  }
}

std::vector<PageRun> PageRuns::runs(std::uint64_t total_pages) const {
  std::vector<PageRun> out;
  std::uint64_t pos = 0;
  for (const auto& [first, span] : runs_) {
    if (first > pos) out.push_back({pos, first - pos, PageKind::not_sent});
    out.push_back({first, span.end - first, span.kind});
    pos = span.end;
  }
  if (pos < total_pages) out.push_back({pos, total_pages - pos, PageKind::not_sent});
  return out;
}

PageCounts count_pages(const std::vector<PageRun>& runs) {
  PageCounts c;
  for (const auto& r : runs) {
    switch (r.kind) {
      case PageKind::not_sent: c.not_sent += r.pages; break;
      case PageKind::zero: c.zero += r.pages; break;
      case PageKind::filled: c.filled += r.pages; break;
      case PageKind::data: c.data += r.pages; break;
    }
  }
  return c;
}

std::vector<Segment> segments(const std::vector<PageRun>& runs, std::size_t buckets) {
  std::vector<Segment> out;
  if (runs.empty() || buckets == 0) return out;
  auto push = [&](std::uint64_t first, std::uint64_t pages, PageKind kind) {
    if (!out.empty() && out.back().kind == kind && out.back().first + out.back().pages == first)
      out.back().pages += pages;
    else
      out.push_back({first, pages, kind});
  };
  if (runs.size() <= buckets) {
    for (const auto& r : runs) push(r.first, r.pages, r.kind);
    return out;
  }
  const std::uint64_t start = runs.front().first;
  const std::uint64_t total = runs.back().first + runs.back().pages - start;
  const std::uint64_t per = total / buckets + (total % buckets != 0);
  std::size_t ri = 0;
  for (std::uint64_t b0 = start; b0 < start + total; b0 += per) {
    const std::uint64_t b1 = std::min(b0 + per, start + total);
    std::array<std::uint64_t, 4> cover{};
    while (ri < runs.size() && runs[ri].first + runs[ri].pages <= b0) ++ri;
    for (std::size_t j = ri; j < runs.size() && runs[j].first < b1; ++j) {
      const std::uint64_t lo = std::max(b0, runs[j].first);
      const std::uint64_t hi = std::min(b1, runs[j].first + runs[j].pages);
      cover[static_cast<std::size_t>(runs[j].kind)] += hi - lo;
    }
    std::size_t best = 0;
    for (std::size_t k = 1; k < cover.size(); ++k)
      if (cover[k] > cover[best]) best = k;
    push(b0, b1 - b0, static_cast<PageKind>(best));
  }
  return out;
}

}  // namespace statewire::report
