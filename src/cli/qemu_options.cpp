#include "cli/qemu_options.hpp"

#include <fmt/format.h>

#include "statewire/schema_json.hpp"

namespace statewire::cli {

void add_schema_options(CLI::App& cmd, QemuSchemaArgs& args) {
  cmd.add_option("--schema", args.dump_path,
                 "QEMU -dump-vmstate JSON: explains device sections the stream's own "
                 "description trailer does not (e.g. suppress-vmdesc streams)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--schema-order", args.order,
                 "Schema sources to try, in order: trailer, dump, registered (built-in C++)");
}

Result<LoadedDecodeOptions> make_decode_options(const QemuSchemaArgs& args) {
  LoadedDecodeOptions out;
  out.options.schema_order.clear();
  std::string_view rest = args.order;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    if (item == "trailer")
      out.options.schema_order.push_back(qemu::SchemaSource::trailer);
    else if (item == "dump")
      out.options.schema_order.push_back(qemu::SchemaSource::dump);
    else if (item == "registered")
      out.options.schema_order.push_back(qemu::SchemaSource::registered);
    else
      return fail(Errc::invalid_value,
                  fmt::format("--schema-order: unknown source '{}' (trailer, dump, registered)", item));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (!args.dump_path.empty()) {
    SW_TRY(set, load_schema_file(args.dump_path));
    out.dump = std::make_shared<SchemaSet>(std::move(set));
    out.options.dump = out.dump.get();
  }
  out.options.registered = qemu::builtin_qemu_descriptions();
  return out;
}

}  // namespace statewire::cli
