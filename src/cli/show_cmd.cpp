// `statewire show STREAM [PATH]`: the devices a stream holds, or the values
// under one path (state_path.hpp: `cpu[0].env.eip`, `serial.divider`).
// `statewire set IN OUT PATH=VALUE...`: the same paths, edited, written back
// in the input's format (or --to), range-checked against each field's width.
#include <fmt/format.h>

#include <map>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/qemu_options.hpp"
#include "cli/any_stream.hpp"
#include "cli/value_text.hpp"
#include "statewire/codec.hpp"
#include "statewire/state_path.hpp"

namespace statewire::cli {

namespace {

std::string short_name(const std::string& idstr) {
  const auto slash = idstr.rfind('/');
  return slash == std::string::npos ? idstr : idstr.substr(slash + 1);
}

// The shortest path prefix that names this section unambiguously.
std::string device_path(const StateStream& s, const Section& sec) {
  const std::string sn = short_name(sec.name);
  std::size_t same_short = 0, same_short_inst = 0, same_idstr = 0;
  for (const auto& o : s.sections) {
    if (o.kind == SectionKind::part || o.kind == SectionKind::end || o.name == "ram") continue;
    if (short_name(o.name) == sn) {
      ++same_short;
      if (o.instance_id == sec.instance_id) ++same_short_inst;
    }
    if (o.name == sec.name) ++same_idstr;
  }
  if (same_short == 1) return sn;
  if (same_short_inst == 1) return fmt::format("{}[{}]", sn, sec.instance_id);
  return same_idstr == 1 ? sec.name : fmt::format("{}[{}]", sec.name, sec.instance_id);
}

struct ShowArgs {
  std::string stream, path;
  QemuSchemaArgs schema;
};

void run_show(const ShowArgs& args) {
  auto decode = make_decode_options(args.schema);
  if (!decode) return report(decode.error());
  auto in = read_any_stream(args.stream, decode->options);
  if (!in) return report(in.error());
  StateStream& s = in->stream;
  std::string out;
  if (args.path.empty()) {
    for (const auto& sec : s.sections) {
      if (sec.kind == SectionKind::part || sec.kind == SectionKind::end || sec.name == "ram")
        continue;
      std::size_t leaves = 0;
      std::string lines;
      leaf_lines(lines, "", sec.body, "");
      for (char c : lines) leaves += c == '\n';
      const bool opaque = sec.body.members.size() == 1 && sec.body.members[0].name == "opaque";
      out += fmt::format("{:<28} section \"{}\" instance {} version {}: {}\n",
                         device_path(s, sec), sec.name, sec.instance_id, sec.version_id,
                         opaque ? "opaque (no schema explained it; try --schema)"
                                : fmt::format("{} value{}", leaves, leaves == 1 ? "" : "s"));
    }
  } else {
    auto ref = find_value(s, args.path);
    if (!ref) return report(ref.error().in_section(args.stream));
    if (ref->value)
      leaf_lines(out, ref->path, *ref->value, ref->section + " ");
    else
      leaf_lines(out, ref->path, *ref->body, ref->section + " ");
  }
  fmt::print("{}", out);
}

// A value as `set` reports its edits: arrays element by element (the first 16).
std::string edit_text(const Value& v) {
  const Array* a = v.get_if<Array>();
  if (!a) return value_text(v);
  std::string out = "[";
  for (std::size_t i = 0; i < a->items.size() && i < 16; ++i)
    out += (i ? ", " : "") + edit_text(a->items[i]);
  if (a->items.size() > 16) out += fmt::format(", ... ({} elements)", a->items.size());
  return out + "]";
}

struct SetArgs {
  std::string in, out, to;
  std::vector<std::string> assignments;
  QemuSchemaArgs schema;
};

void run_set(const SetArgs& args) {
  auto decode = make_decode_options(args.schema);
  if (!decode) return report(decode.error());
  auto in = read_any_stream(args.in, decode->options);
  if (!in) return report(in.error());
  StateStream& s = in->stream;
  // All edits are checked before anything is written.
  std::vector<std::string> done;
  for (const auto& a : args.assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      Error e = make_error(Errc::invalid_value, fmt::format("\"{}\" is not PATH=VALUE", a));
      return report(e);
    }
    const std::string path = a.substr(0, eq), text = a.substr(eq + 1);
    auto ref = find_value(s, path);
    if (!ref) return report(ref.error());
    if (!ref->value) {
      Error e = make_error(Errc::invalid_value, "names a section or subsection, not a value");
      e.section = ref->section;
      e.field_path = path;
      return report(e);
    }
    const std::string before = edit_text(*ref->value);
    if (auto r = set_value(*ref->value, text); !r) {
      Error e = r.error();
      e.section = ref->section;
      e.field_path = ref->path;
      return report(e);
    }
    done.push_back(fmt::format("{} {}: {} -> {}", ref->section, ref->path, before,
                               edit_text(*ref->value)));
  }
  const std::string format = args.to.empty() ? in->format : args.to;
  auto codec = make_codec(format);
  auto bytes = codec->encode(s);
  if (!bytes) return report(bytes.error());
  auto w = write_file(args.out, std::string_view(reinterpret_cast<const char*>(bytes->data()),
                                                 bytes->size()));
  if (!w) return report(w.error());
  for (const auto& d : done) fmt::print(stderr, "{}\n", d);
}

}  // namespace

void register_show(CLI::App& app) {
  auto args = std::make_shared<ShowArgs>();
  CLI::App* cmd = app.add_subcommand(
      "show", "List a stream's devices, or print the values under PATH (cpu[0].env.eip, serial.divider)");
  cmd->add_option("stream", args->stream, "QEMU, framed or JSON stream; - reads standard input")
      ->required()
      ->check(kInputFile);
  cmd->add_option("path", args->path,
                  "DEVICE[INSTANCE].member[.member|[index]]...; DEVICE is a section name or its "
                  "part after the last '/'");
  add_schema_options(*cmd, args->schema);
  cmd->callback([args] { run_show(*args); });

  auto sargs = std::make_shared<SetArgs>();
  CLI::App* set = app.add_subcommand(
      "set", "Write a copy of a stream with values changed: set IN OUT PATH=VALUE...");
  set->add_option("in", sargs->in, "QEMU, framed or JSON stream; - reads standard input")
      ->required()
      ->check(kInputFile);
  set->add_option("out", sargs->out, "Where to write; - is standard output")->required();
  set->add_option("assignments", sargs->assignments,
                  "PATH=VALUE: decimal, 0x hex, negative for signed fields, true/false for bools; "
                  "buffers as hex bytes of the field's size (0x0102..., 52:54:00:12:34:56); "
                  "strings as text or \"...\"; whole arrays as [a, b, ...] of their length; "
                  "checked against the field's width")
      ->required();
  set->add_option("--to", sargs->to, "Output format (default: the input's)")
      ->check(CLI::IsMember({"qemu", "framed", "json"}));
  add_schema_options(*set, sargs->schema);
  set->callback([sargs] { run_set(*sargs); });
}

}  // namespace statewire::cli
