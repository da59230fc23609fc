// `statewire check OLD.json NEW.json`: what in NEW's schemas breaks migration
// with OLD's, per direction, as text or JSON, with exit codes for CI
// (docs/check.md): 0 compatible, 1 breaking changes (or warnings with
// --strict), 2 wrong arguments or unreadable input.
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/any_stream.hpp"
#include "statewire/check.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/rules_file.hpp"
#include "statewire/schema_json.hpp"

namespace statewire::cli {

namespace {

constexpr int kExitCompatible = 0;
constexpr int kExitBreaking = 1;
constexpr int kExitBadInput = 2;

struct CheckArgs {
  std::string old_path, new_path, machines_path, devices_from, rules_out;
  std::string format = "text";
  std::string direction = "both";
  bool strict = false;
  bool hide_info = false;
};

void unreadable(const Error& e) {
  fmt::print(stderr, "statewire: error: {} [{}]\n", e.to_string(), errc_name(e.code));
  set_exit_code(kExitBadInput);
}

void collect_subsections(const Struct& s, SentContent& out) {
  for (const auto& sub : s.subsections) {
    out.subsections.insert(sub.name);
    collect_subsections(sub.body, out);
  }
  for (const auto& m : s.members) {
    if (const Struct* st = m.value.get_if<Struct>()) collect_subsections(*st, out);
    if (const Array* a = m.value.get_if<Array>())
      for (const auto& it : a->items)
        if (const Struct* st = it.get_if<Struct>()) collect_subsections(*st, out);
  }
}

// The sections and subsections a stream carries. A section's idstr is
// "<qdev path>/<vmsd name>" or the vmsd name alone, so every '/' suffix is
// recorded; a body nothing explained leaves its subsections unknown.
SentContent sent_content(const StateStream& stream) {
  SentContent out;
  for (const auto& sec : stream.sections) {
    if (sec.name == "ram") continue;
    const bool opaque = sec.body.members.size() == 1 &&
                        sec.body.members[0].name == qemu::keys::kOpaque;
    for (std::size_t p = 0;;) {
      std::string tail = sec.name.substr(p);
      out.sections.insert(tail);
      if (opaque) out.undecoded.insert(tail);
      std::size_t slash = sec.name.find('/', p);
      if (slash == std::string::npos) break;
      p = slash + 1;
    }
    collect_subsections(sec.body, out);
  }
  return out;
}

}  // namespace

void register_check(CLI::App& app) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Compare two schema dumps (old build, new build) and report what breaks migration");
  cmd->add_option("old", args->old_path,
                  "Schema dump of the old build (QEMU -dump-vmstate JSON); - reads standard input")
      ->required();
  cmd->add_option("new", args->new_path, "Schema dump of the new build; - reads standard input")
      ->required();
  cmd->add_option("--format", args->format, "text (grouped by device) or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--machines", args->machines_path,
                  "Machine types, compat properties and gates (JSON, see docs/check.md)");
  cmd->add_option("--direction", args->direction,
                  "forward (old->new), backward (new->old) or both: which verdicts count")
      ->check(CLI::IsMember({"forward", "backward", "both"}));
  cmd->add_option("--devices-from", args->devices_from,
                  "A stream (QEMU, framed or JSON) of the VM in question: judge only the sections "
                  "and subsections it sends (\"will this VM migrate?\")")
      ->check(kInputFile);
  cmd->add_flag("--strict", args->strict, "Exit 1 on warnings (risks) too");
  cmd->add_flag("--hide-info", args->hide_info, "text: leave out info findings");
  cmd->add_option("--rules-out", args->rules_out,
                  "Write the transforms that repair the forward findings, as a rules file for "
                  "review (docs/compatibility.md)");
  cmd->callback([args] {
    if (args->old_path == "-" && args->new_path == "-")
      throw CLI::ValidationError("old, new", "only one of them can be standard input");
    auto old_schema = read_schema_dump(args->old_path);
    if (!old_schema) return unreadable(old_schema.error());
    auto new_schema = read_schema_dump(args->new_path);
    if (!new_schema) return unreadable(new_schema.error());
    std::optional<MachineSet> machines;
    if (!args->machines_path.empty()) {
      auto m = load_machine_set_file(args->machines_path);
      if (!m) return unreadable(m.error());
      machines = std::move(*m);
    }
    CheckOptions opt;
    opt.direction = args->direction == "forward"    ? CheckDirection::forward
                    : args->direction == "backward" ? CheckDirection::backward
                                                    : CheckDirection::both;
    opt.machines = machines ? &*machines : nullptr;
    std::optional<SentContent> sent;
    if (!args->devices_from.empty()) {
      // The old build wrote the stream: its dump explains sections a
      // trailer does not (suppress-vmdesc streams).
      qemu::QemuDecodeOptions decode;
      decode.dump = &*old_schema;
      decode.registered = qemu::builtin_qemu_descriptions();
      auto stream = read_any_stream(args->devices_from, decode);
      if (!stream) return unreadable(stream.error());
      sent = sent_content(stream->stream);
      opt.sent = &*sent;
    }
    // Findings statewire's own repairs handle (convert --to-schema) say so.
    const TransformSet builtin = qemu_builtin_transforms();
    opt.transforms = &builtin;
    CheckReport report = check_compat(*old_schema, *new_schema, opt);
    if (!args->rules_out.empty()) {
      TransformSet repairs = repair_transforms(report);
      auto w = write_file(args->rules_out, rules_to_json(repairs));
      if (!w) return unreadable(w.error());
      fmt::print(stderr, "statewire: {} repairing transform(s) written to {}\n", repairs.all().size(),
                 args->rules_out);
    }
    if (args->format == "json")
      fmt::print("{}", render_check_json(report));
    else
      fmt::print("{}", render_check_text(report, RenderOptions{!args->hide_info}));
    bool fail = report.breaking() || (args->strict && report.count(Severity::warning) > 0);
    // With machine types, a machine pair that breaks fails the check too.
    for (const auto& p : report.machines)
      fail = fail || p.verdict == Verdict::breaks || (args->strict && p.verdict == Verdict::risk);
    set_exit_code(fail ? kExitBreaking : kExitCompatible);
  });
}

}  // namespace statewire::cli
