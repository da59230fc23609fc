#include "cli/stream_diff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "statewire/qemu_stream.hpp"

namespace statewire::cli {

namespace {

// What a stream says about one guest page: a fill byte or the page's bytes.
struct Page {
  const std::vector<std::uint8_t>* data = nullptr;
  std::uint8_t fill = 0;
};

struct Ram {
  std::map<std::string, std::map<std::uint64_t, Page>> blocks;  // block -> addr -> page
};

std::uint64_t uint_member(const Struct& s, std::string_view name) {
  std::uint64_t v = 0;
  if (const Value* m = s.find(name)) m->as_u64(v);
  return v;
}

// The last record for each page wins, as when QEMU loads the stream.
Ram ram_pages(const StateStream& s) {
  Ram out;
  std::string block;
  for (const auto& sec : s.sections) {
    if (sec.name != "ram") continue;
    const Value* recs = sec.body.find(qemu::keys::kRamRecords);
    const Array* a = recs ? recs->get_if<Array>() : nullptr;
    if (!a) continue;
    for (const auto& item : a->items) {
      const Struct* r = item.get_if<Struct>();
      if (!r) continue;
      if (const Value* b = r->find("block"); b && b->get_if<std::string>()) block = *b->get_if<std::string>();
      const std::uint64_t addr = uint_member(*r, "addr");
      if (const Value* d = r->find("data"); d && d->get_if<Blob>()) {
        out.blocks[block][addr] = Page{&d->get_if<Blob>()->bytes, 0};
      } else if (const Value* f = r->find("fill")) {
        std::uint64_t fill = 0;
        f->as_u64(fill);
        out.blocks[block][addr] = Page{nullptr, static_cast<std::uint8_t>(fill)};
      }
    }
  }
  return out;
}

bool same_page(const Page& a, const Page& b) {
  if (!a.data && !b.data) return a.fill == b.fill;
  if (a.data && b.data) return *a.data == *b.data;
  const Page& filled = a.data ? b : a;
  const auto& bytes = a.data ? *a.data : *b.data;
  return std::all_of(bytes.begin(), bytes.end(), [&](std::uint8_t x) { return x == filled.fill; });
}

std::map<std::string, std::vector<PageRange>> ram_diff(const Ram& a, const Ram& b) {
  std::map<std::string, std::vector<PageRange>> out;
  std::map<std::string, std::map<std::uint64_t, bool>> differing;  // block -> addr
  auto consider = [&](const std::string& block, std::uint64_t addr, const Page* x, const Page* y) {
    if (!x || !y || !same_page(*x, *y)) differing[block][addr] = true;
  };
  for (const auto& [block, pages] : a.blocks) {
    auto ob = b.blocks.find(block);
    for (const auto& [addr, p] : pages) {
      const Page* q = nullptr;
      if (ob != b.blocks.end())
        if (auto it = ob->second.find(addr); it != ob->second.end()) q = &it->second;
      consider(block, addr, &p, q);
    }
  }
  for (const auto& [block, pages] : b.blocks) {
    auto oa = a.blocks.find(block);
    for (const auto& [addr, p] : pages)
      if (oa == a.blocks.end() || !oa->second.count(addr)) consider(block, addr, nullptr, &p);
  }
  for (const auto& [block, addrs] : differing) {
    std::vector<PageRange>& rs = out[block];
    // Page size: the smallest step between page addresses of the block.
    std::uint64_t step = 4096;
    const auto& all = a.blocks.count(block) ? a.blocks.at(block) : b.blocks.at(block);
    for (auto it = all.begin(); it != all.end() && std::next(it) != all.end(); ++it)
      step = std::min(step, std::next(it)->first - it->first);
    for (const auto& [addr, _] : addrs) {
      if (!rs.empty() && rs.back().end == addr) {
        rs.back().end += step;
        ++rs.back().pages;
      } else {
        rs.push_back(PageRange{addr, addr + step, 1});
      }
    }
  }
  return out;
}

bool is_device(const Section& s) {
  return s.name != "ram" && s.kind != SectionKind::part && s.kind != SectionKind::end;
}

}  // namespace

StreamDiff diff_streams(const StateStream& a, const StateStream& b, bool compare_ram) {
  StreamDiff out;
  std::map<std::string, const Section*> in_b;
  for (const auto& s : b.sections)
    if (is_device(s)) in_b.emplace(s.label(), &s);
  std::set<std::string> seen;
  auto opaque = [](const Section& x) {
    return x.body.members.size() == 1 && x.body.members[0].name == qemu::keys::kOpaque;
  };
  for (const auto& s : a.sections) {
    if (!is_device(s)) continue;
    seen.insert(s.label());
    auto it = in_b.find(s.label());
    if (it == in_b.end()) {
      out.sections.push_back({SectionDiff::Kind::only_in_a, s.label(), {}, false});
      ++out.count;
      continue;
    }
    if (opaque(s) != opaque(*it->second)) {
      // One side was decoded, the other is bytes: fields cannot be paired.
      out.sections.push_back({SectionDiff::Kind::not_compared, s.label(), {}, opaque(s)});
      ++out.count;
      continue;
    }
    DiffOptions opt;
    opt.max_differences = 100000;
    auto ds = diff(s.body, it->second->body, opt);
    if (s.version_id != it->second->version_id)
      ds.insert(ds.begin(), Difference{"(version)", fmt::format("version {} != {}", s.version_id,
                                                                it->second->version_id),
                                       Value(s.version_id), Value(it->second->version_id)});
    if (ds.empty()) continue;
    out.count += ds.size();
    out.sections.push_back({SectionDiff::Kind::differs, s.label(), std::move(ds), false});
  }
  for (const auto& s : b.sections)
    if (is_device(s) && !seen.count(s.label())) {
      out.sections.push_back({SectionDiff::Kind::only_in_b, s.label(), {}, false});
      ++out.count;
    }
  out.ram_compared = compare_ram;
  if (compare_ram) {
    out.ram = ram_diff(ram_pages(a), ram_pages(b));
    for (const auto& [block, ranges] : out.ram) out.count += ranges.size();
  }
  return out;
}

}  // namespace statewire::cli
