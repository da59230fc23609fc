// What `plan` and `convert --to-schema` share: the destination's schemas
// (--to-schema DUMP.json), the transforms (built-in QEMU repairs plus
// --rules files) and how a stream is read.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/mapped_file.hpp"
#include "cli/qemu_options.hpp"
#include "statewire/planner.hpp"
#include "statewire/schema.hpp"

namespace statewire::cli {

struct CompatArgs {
  std::string to_schema;
  std::vector<std::string> rules;
};

void add_rules_option(CLI::App& cmd, CompatArgs& args);
void add_to_schema_option(CLI::App& cmd, CompatArgs& args, bool required);

struct CompatSetup {
  SchemaSet dump;
  SchemaCatalog catalog;
  TransformSet transforms;
  PlanOptions options;  // points into this object: do not copy or move after make
};
// Loads --to-schema and every --rules file, into `out`.
[[nodiscard]] Result<void> make_compat_setup(const CompatArgs& args, CompatSetup& out);

// A QEMU stream, a framed stream or tree JSON (by its first bytes), whole.
[[nodiscard]] Result<StateStream> load_stream(const std::string& path, const MappedFile& file,
                                              const QemuSchemaArgs& schema);

}  // namespace statewire::cli
