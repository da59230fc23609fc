#include "cli/compat_setup.hpp"

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/rules_file.hpp"

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
  for (const auto& path : args.rules) {
    SW_TRY(set, load_rules_file(path));
    out.transforms.add_all(set);
  }
  out.options.transforms = &out.transforms;
  return {};
}

}  // namespace statewire::cli
