// `statewire diff A B`: what differs between two streams (any formats):
// device sections matched by name and instance (not by section id), each
// difference as "cpu/0 env.eip: 0xfff0 -> 0x2bb1"; RAM as ranges of
// differing pages per block (`--ignore ram` leaves it out); `--format json`.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/qemu_options.hpp"
#include "cli/any_stream.hpp"
#include "cli/stream_diff.hpp"
#include "cli/value_text.hpp"

namespace statewire::cli {

namespace {

struct DiffArgs {
  std::string a, b;
  std::string format = "text";
  std::vector<std::string> ignore;
  QemuSchemaArgs schema;
};

void run_diff(const DiffArgs& args) {
  auto decode = make_decode_options(args.schema);
  if (!decode) return report(decode.error());
  auto a = read_any_stream(args.a, decode->options);
  if (!a) return report(a.error());
  auto b = read_any_stream(args.b, decode->options);
  if (!b) return report(b.error());
  const bool ignore_ram = std::find(args.ignore.begin(), args.ignore.end(), "ram") != args.ignore.end();

  const StreamDiff d = diff_streams(a->stream, b->stream, !ignore_ram);

  using Json = nlohmann::ordered_json;
  Json devices = Json::array(), only_a = Json::array(), only_b = Json::array();
  std::string text;
  const std::size_t count = d.count;
  for (const auto& sd : d.sections) {
    switch (sd.kind) {
      case SectionDiff::Kind::only_in_a:
        only_a.push_back(sd.section);
        text += fmt::format("{}: only in {}\n", sd.section, args.a);
        break;
      case SectionDiff::Kind::only_in_b:
        only_b.push_back(sd.section);
        text += fmt::format("{}: only in {}\n", sd.section, args.b);
        break;
      case SectionDiff::Kind::not_compared: {
        const std::string& raw_side = sd.opaque_in_a ? args.a : args.b;
        text += fmt::format("{}: not compared: no schema explained it in {} (try --schema)\n",
                            sd.section, raw_side);
        devices.push_back(Json{{"section", sd.section}, {"not_compared", raw_side}});
        break;
      }
      case SectionDiff::Kind::differs: {
        Json dj = Json::array();
        for (const auto& x : sd.differences) {
          if (x.left && x.right) {
            text += fmt::format("{} {}: {} -> {}\n", sd.section, x.path, value_text(*x.left),
                                value_text(*x.right));
            dj.push_back(Json{{"path", x.path}, {"left", value_text(*x.left)}, {"right", value_text(*x.right)}});
          } else {
            text += fmt::format("{} {}: {}\n", sd.section, x.path, x.what);
            dj.push_back(Json{{"path", x.path}, {"what", x.what}});
          }
        }
        devices.push_back(Json{{"section", sd.section}, {"differences", std::move(dj)}});
        break;
      }
    }
  }
  Json ram = Json::array();
  for (const auto& [block, ranges] : d.ram) {
    std::uint64_t pages = 0;
    Json rj = Json::array();
    for (const auto& r : ranges) {
      pages += r.pages;
      rj.push_back(Json{{"start", fmt::format("{:#x}", r.start)},
                        {"end", fmt::format("{:#x}", r.end)},
                        {"pages", r.pages}});
    }
    text += fmt::format("ram {}: {} page{} in {} range{}:", block, pages,
                        pages == 1 ? " differs" : "s differ",
                        ranges.size(), ranges.size() == 1 ? "" : "s");
    for (std::size_t i = 0; i < ranges.size() && i < 16; ++i)
      text += fmt::format(" {:#x}-{:#x}", ranges[i].start, ranges[i].end - 1);
    if (ranges.size() > 16) text += fmt::format(" ... ({} more)", ranges.size() - 16);
    text += "\n";
    ram.push_back(Json{{"block", block}, {"pages", pages}, {"ranges", std::move(rj)}});
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
