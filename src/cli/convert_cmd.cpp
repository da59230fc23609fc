// `statewire convert IN OUT --to qemu|json`: a QEMU migration stream to the
// lossless tree JSON and back. The input format is recognised by its first
// bytes ("QEVM" = QEMU stream, otherwise JSON). qemu -> json -> qemu gives
// the original bytes; edit a field in the JSON to change it in the stream.
#include <fmt/format.h>

#include <cstring>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/mapped_file.hpp"
#include "cli/qemu_options.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"

namespace statewire::cli {

namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string to;
  QemuSchemaArgs schema;
};

Result<StateStream> load_tree(const ConvertArgs& args) {
  SW_TRY(file, MappedFile::open(args.in));
  ByteSpan b = file.bytes();
  if (b.size() >= 4 && std::memcmp(b.data(), "QEVM", 4) == 0) {
    SW_TRY(opts, make_decode_options(args.schema));
    if (b.size() >= (64u << 20))  // see analyze_cmd.cpp
      opts.options.bulk_read = [&file](std::uint64_t off, std::span<std::uint8_t> dst) {
        return file.read_at(off, dst);
      };
    return qemu::decode_qemu_stream(b, opts.options);
  }
  std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  auto tree = stream_from_json(text);
  if (!tree) return Unexpected(std::move(tree.error().in_section(args.in)));
  return tree;
}

void run_convert(const ConvertArgs& args) {
  auto tree = load_tree(args);
  if (!tree) return report(tree.error());
  if (args.to == "json") {
    auto w = write_file(args.out, to_json(*tree));
    if (!w) return report(w.error());
    return;
  }
  auto bytes = qemu::encode_qemu_stream(*tree);
  if (!bytes) return report(bytes.error());
  auto w = write_file(args.out, std::string_view(reinterpret_cast<const char*>(bytes->data()),
                                                 bytes->size()));
  if (!w) return report(w.error());
}

}  // namespace

void register_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a QEMU migration stream to JSON and back, losslessly");
  cmd->add_option("in", args->in, "Input: a QEMU stream or statewire tree JSON")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("out", args->out, "Output file")->required();
  cmd->add_option("--to", args->to, "Output format")->required()->check(CLI::IsMember({"qemu", "json"}));
  add_schema_options(*cmd, args->schema);
  cmd->callback([args] { run_convert(*args); });
}

}  // namespace statewire::cli
