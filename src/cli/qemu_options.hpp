// Options shared by the QEMU stream subcommands (analyze, convert): where
// device schemas come from and in which order they are tried.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "statewire/qemu_stream.hpp"
#include "statewire/schema.hpp"

namespace statewire::cli {

struct QemuSchemaArgs {
  std::string dump_path;
  std::string order = "trailer,dump,registered";
};

// QemuDecodeOptions point at the loaded dump; this keeps it alive.
struct LoadedDecodeOptions {
  std::shared_ptr<SchemaSet> dump;
  qemu::QemuDecodeOptions options;
};

void add_schema_options(CLI::App& cmd, QemuSchemaArgs& args);
[[nodiscard]] Result<LoadedDecodeOptions> make_decode_options(const QemuSchemaArgs& args);

}  // namespace statewire::cli
