// `statewire schema DUMP.json [--format text|json]`: load a schema dump and
// list it (text) or re-export it in QEMU's -dump-vmstate shape (json).
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "statewire/schema_json.hpp"

namespace statewire::cli {

namespace {

struct SchemaArgs {
  std::string path;
  std::string format = "text";
  bool extended = false;
};

void print_text(const SchemaSet& set) {
  SchemaStats total = stats(set);
  fmt::print("machine: {}\n", set.machine.value_or("(none)"));
  fmt::print("{} devices, {} descriptions, {} fields, {} subsections\n", set.devices.size(),
             total.descriptions, total.fields, total.subsections);
  fmt::print("{:<40} {:<32} {:>7} {:>7} {:>6} {:>5}\n", "device", "section (vmsd)", "version",
             "minimum", "fields", "subs");
  for (const auto& d : set.devices) {
    SchemaStats s = stats(d.description);
    fmt::print("{:<40} {:<32} {:>7} {:>7} {:>6} {:>5}\n", d.key, d.description.name,
               d.version_id, d.minimum_version_id, s.fields, s.subsections);
  }
}

}  // namespace

void register_schema(CLI::App& app) {
  auto args = std::make_shared<SchemaArgs>();
  CLI::App* cmd = app.add_subcommand("schema", "Load a schema dump (QEMU -dump-vmstate JSON) and list or re-export it");
  cmd->add_option("dump", args->path, "Schema dump (JSON); - reads standard input")
      ->required()
      ->check(kInputFile);
  cmd->add_option("--format", args->format, "text: devices, versions, field counts; json: the dump re-exported")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--extended", args->extended, "json: add statewire's keys (types, counts, test and needed names)");
  cmd->callback([args] {
    auto set = read_schema_dump(args->path);
    if (!set) return report(set.error());
    if (args->format == "json")
      fmt::print("{}", to_schema_json(*set, SchemaJsonOptions{args->extended}));
    else
      print_text(*set);
  });
}

}  // namespace statewire::cli
