#include "cli/compat_setup.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/codec.hpp"
#include "statewire/framed.hpp"
#include "statewire/rules_file.hpp"
#include "statewire/tree_json.hpp"

namespace statewire::cli {

void add_rules_option(CLI::App& cmd, CompatArgs& args) {
  cmd.add_option("--rules", args.rules,
                 "Rules file(s) with transforms (JSON, docs/compatibility.md); may repeat")
      ->check(CLI::ExistingFile);
}

void add_to_schema_option(CLI::App& cmd, CompatArgs& args, bool required) {
  auto* o = cmd.add_option("--to-schema", args.to_schema,
                           "The destination's schemas: a -dump-vmstate JSON of the QEMU (or "
                           "statewire build) that will load the state");
  if (required) o->required();
  o->check(kInputFile);
}

Result<void> make_compat_setup(const CompatArgs& args, CompatSetup& out) {
  if (!args.to_schema.empty()) {
    SW_TRY(dump, read_schema_dump(args.to_schema));
    out.dump = std::move(dump);
    out.catalog = SchemaCatalog::from_dump(out.dump);
    for (auto& d : qemu::builtin_qemu_descriptions()) out.catalog.add(std::move(d));
    out.options.validate.dump_schema = true;
  }
  out.transforms = qemu_builtin_transforms();
  std::string machine_type_from;
  for (const auto& path : args.rules) {
    SW_TRY(set, load_rules_file(path));
    // Two files may not disagree on the stream's rewrites.
    const StreamRewrites& have = out.transforms.stream();
    const StreamRewrites& next = set.stream();
    if (next.machine_type && have.machine_type && *next.machine_type != *have.machine_type)
      return fail(Errc::invalid_value,
                  fmt::format("{}: machine type {}, but {} sets {}", path, *next.machine_type,
                              machine_type_from, *have.machine_type));
    if (next.machine_type) machine_type_from = path;
    for (const auto& [from, to] : next.renames)
      for (const auto& [f, t] : have.renames)
        if (f == from && t != to)
          return fail(Errc::invalid_value,
                      fmt::format("{}: renames section {} to {}, but another rules file to {}",
                                  path, from, to, t));
    out.transforms.add_all(set);
  }
  out.options.transforms = &out.transforms;
  return {};
}

Result<StateStream> load_stream(const std::string& path, const MappedFile& file,
                                const QemuSchemaArgs& schema) {
  ByteSpan b = file.bytes();
  if (b.size() >= 4 && std::memcmp(b.data(), "QEVM", 4) == 0) {
    SW_TRY(opts, make_decode_options(schema));
    return qemu::decode_qemu_stream(b, opts.options);
  }
  if (is_framed(b)) {
    auto f = decode_framed(b);
    if (!f) return Unexpected(std::move(f.error()));
    return std::move(f->stream);
  }
  if (!detect_codec(b)) {
    // Neither magic nor a JSON object: say what was expected, not "bad JSON".
    Error e = make_error(Errc::bad_magic,
                         fmt::format("not a QEMU stream, framed file or JSON (first bytes: {:02x})",
                                     fmt::join(b.first(std::min<std::size_t>(b.size(), 8)), " ")));
    e.offset = 0;
    return Unexpected(std::move(e.in_section(path)));
  }
  std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  auto tree = stream_from_json(text);
  if (!tree) return Unexpected(std::move(tree.error().in_section(path)));
  return tree;
}

}  // namespace statewire::cli
