// `statewire diff A B`: what differs between two streams (any formats):
// device sections matched by name and instance (not by section id), each
// difference as "cpu/0 env.eip: 0xfff0 -> 0x2bb1"; RAM as ranges of
// differing pages per block (`--ignore ram` leaves it out); `--format json`.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/qemu_options.hpp"
#include "cli/any_stream.hpp"
#include "cli/value_text.hpp"
#include "statewire/tree_diff.hpp"

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

struct Range {
  std::uint64_t start = 0, end = 0;  // [start, end)
  std::uint64_t pages = 0;
};

std::map<std::string, std::vector<Range>> ram_diff(const Ram& a, const Ram& b) {
  std::map<std::string, std::vector<Range>> out;
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
    std::vector<Range>& rs = out[block];
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
        rs.push_back(Range{addr, addr + step, 1});
      }
    }
  }
  return out;
}

struct DiffArgs {
  std::string a, b;
  std::string format = "text";
  std::vector<std::string> ignore;
  QemuSchemaArgs schema;
};

bool is_device(const Section& s) {
  return s.name != "ram" && s.kind != SectionKind::part && s.kind != SectionKind::end;
}

void run_diff(const DiffArgs& args) {
  auto decode = make_decode_options(args.schema);
  if (!decode) return report(decode.error());
  auto a = read_any_stream(args.a, decode->options);
  if (!a) return report(a.error());
  auto b = read_any_stream(args.b, decode->options);
  if (!b) return report(b.error());
  const bool ignore_ram = std::find(args.ignore.begin(), args.ignore.end(), "ram") != args.ignore.end();

  using Json = nlohmann::ordered_json;
  Json devices = Json::array(), only_a = Json::array(), only_b = Json::array();
  std::string text;
  std::size_t count = 0;
  std::map<std::string, const Section*> in_b;
  for (const auto& s : b->stream.sections)
    if (is_device(s)) in_b.emplace(s.label(), &s);
  std::set<std::string> seen;
  for (const auto& s : a->stream.sections) {
    if (!is_device(s)) continue;
    seen.insert(s.label());
    auto it = in_b.find(s.label());
    if (it == in_b.end()) {
      only_a.push_back(s.label());
      text += fmt::format("{}: only in {}\n", s.label(), args.a);
      ++count;
      continue;
    }
    auto opaque = [](const Section& x) {
      return x.body.members.size() == 1 && x.body.members[0].name == qemu::keys::kOpaque;
    };
    if (opaque(s) != opaque(*it->second)) {
      // One side was decoded, the other is bytes: fields cannot be paired.
      const std::string& raw_side = opaque(s) ? args.a : args.b;
      text += fmt::format("{}: not compared: no schema explained it in {} (try --schema)\n",
                          s.label(), raw_side);
      devices.push_back(Json{{"section", s.label()}, {"not_compared", raw_side}});
      ++count;
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
    Json dj = Json::array();
    for (const auto& d : ds) {
      ++count;
      if (d.left && d.right) {
        text += fmt::format("{} {}: {} -> {}\n", s.label(), d.path, value_text(*d.left),
                            value_text(*d.right));
        dj.push_back(Json{{"path", d.path}, {"left", value_text(*d.left)}, {"right", value_text(*d.right)}});
      } else {
        text += fmt::format("{} {}: {}\n", s.label(), d.path, d.what);
        dj.push_back(Json{{"path", d.path}, {"what", d.what}});
      }
    }
    devices.push_back(Json{{"section", s.label()}, {"differences", std::move(dj)}});
  }
  for (const auto& s : b->stream.sections)
    if (is_device(s) && !seen.count(s.label())) {
      only_b.push_back(s.label());
      text += fmt::format("{}: only in {}\n", s.label(), args.b);
      ++count;
    }
  Json ram = Json::array();
  if (!ignore_ram) {
    for (const auto& [block, ranges] : ram_diff(ram_pages(a->stream), ram_pages(b->stream))) {
      std::uint64_t pages = 0;
      Json rj = Json::array();
      for (const auto& r : ranges) {
        pages += r.pages;
        rj.push_back(Json{{"start", fmt::format("{:#x}", r.start)},
                          {"end", fmt::format("{:#x}", r.end)},
                          {"pages", r.pages}});
      }
      count += ranges.size();
      text += fmt::format("ram {}: {} page{} in {} range{}:", block, pages,
                          pages == 1 ? " differs" : "s differ",
                          ranges.size(), ranges.size() == 1 ? "" : "s");
      for (std::size_t i = 0; i < ranges.size() && i < 16; ++i)
        text += fmt::format(" {:#x}-{:#x}", ranges[i].start, ranges[i].end - 1);
      if (ranges.size() > 16) text += fmt::format(" ... ({} more)", ranges.size() - 16);
      text += "\n";
      ram.push_back(Json{{"block", block}, {"pages", pages}, {"ranges", std::move(rj)}});
    }
  }
  if (args.format == "json") {
    Json root{{"differences", count}, {"devices", std::move(devices)}, {"only_in_a", std::move(only_a)},
              {"only_in_b", std::move(only_b)}};
    if (!ignore_ram) root["ram"] = std::move(ram);
    fmt::print("{}\n", root.dump(2));
  } else {
    fmt::print("{}{}\n", text,
               count ? fmt::format("{} difference{}", count, count == 1 ? "" : "s")
                     : std::string("no differences"));
  }
  // Like diff(1): 1 when the streams differ.
  if (count) set_exit_code(kExitFailure);
}

}  // namespace

void register_diff(CLI::App& app) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* cmd = app.add_subcommand(
      "diff", "Field-level differences between two streams (any formats); exit 1 if they differ");
  cmd->add_option("a", args->a, "First stream (QEMU, framed or JSON)")->required()->check(kInputFile);
  cmd->add_option("b", args->b, "Second stream")->required()->check(kInputFile);
  cmd->add_option("--ignore", args->ignore, "Leave out: ram")->check(CLI::IsMember({"ram"}));
  cmd->add_option("--format", args->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  add_schema_options(*cmd, args->schema);
  cmd->callback([args] { run_diff(*args); });
}

}  // namespace statewire::cli
