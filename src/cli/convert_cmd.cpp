// `statewire convert IN OUT --to qemu|framed|json`: between QEMU's migration
// stream, statewire's framed format and the lossless tree JSON. The input
// format is recognised by its first bytes ("QEVM", the framed magic, else
// JSON). Every path is lossless: qemu -> framed -> json -> qemu gives the
// original bytes; edit a field in the JSON to change it in the stream.
#include <fmt/format.h>

#include <cstring>
#include <map>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/qemu_options.hpp"
#include "cli/stream_convert.hpp"
#include "cli/stream_input.hpp"
#include "statewire/capabilities.hpp"
#include "statewire/codec.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"

namespace statewire::cli {

namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string to;
  std::string compress = "none";
  QemuSchemaArgs schema;
};

void write_tree(const ConvertArgs& args, const StateStream& tree);

CodecOptions encode_options(const ConvertArgs& args) {
  CodecOptions opt;
  opt.framed_encode.header.producer_version = STATEWIRE_VERSION;
  opt.framed_encode.header.capabilities = {std::string(caps::kCodecFramed),
                                           std::string(caps::kChecksumCrc32c)};
  if (args.compress == "zstd") {
    opt.framed_encode.compression = Compression::zstd;
    opt.framed_encode.header.capabilities.emplace_back(caps::kCompressZstd);
  } else if (args.compress == "lz4") {
    opt.framed_encode.compression = Compression::lz4;
    opt.framed_encode.header.capabilities.emplace_back(caps::kCompressLz4);
  }
  return opt;
}

// QEMU and framed streams convert to each other section at a time: nothing
// is spooled, memory stays bounded, and a pipe converts as it arrives.
void run_streaming(const ConvertArgs& args, StreamInput& in, std::string_view from) {
  CodecOptions opt = encode_options(args);
  if (from == "qemu") {
    auto decode = make_decode_options(args.schema);
    if (!decode) return report(decode.error());
    opt.qemu = std::move(decode->options);
  }
  auto out = StreamOutput::open(args.out);
  if (!out) return report(out.error());
  auto r = stream_convert(in, from, **out, args.to, std::move(opt));
  if (!r) return report(r.error());
  auto done = (*out)->commit();
  if (!done) return report(done.error());
}

void run_convert(const ConvertArgs& args) {
  {
    auto in = StreamInput::open(args.in);
    if (!in) return report(in.error());
    auto head = (*in)->peek(8);
    if (!head) return report(head.error());
    if (head->size() >= 4 && std::memcmp(head->data(), "QEVM", 4) == 0)
      return run_streaming(args, **in, "qemu");
    if (is_framed(*head)) return run_streaming(args, **in, "framed");
    // JSON is read whole (a tree of it is built anyway).
    auto text = (*in)->read_all();
    if (!text) return report(text.error());
    auto tree = stream_from_json(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
    if (!tree) return report(tree.error().in_section(args.in));
    return write_tree(args, *tree);
  }
}

void write_tree(const ConvertArgs& args, const StateStream& tree) {
  if (args.to == "json") {
    auto w = write_file(args.out, to_json(tree));
    if (!w) return report(w.error());
    return;
  }
  CodecOptions opt = encode_options(args);
  if (const Value* cfg = tree.envelope.find(qemu::keys::kConfiguration)) {
    // The QEMU configuration section names the machine type.
    if (const Struct* c = cfg->get_if<Struct>())
      if (const Value* name = c->find("name"))
        if (const Blob* b = name->get_if<Blob>())
          opt.framed_encode.header.machine_type.assign(b->bytes.begin(), b->bytes.end());
  }
  auto bytes = make_codec(args.to, opt)->encode(tree);
  if (!bytes) return report(bytes.error());
  auto w = write_file(args.out, std::string_view(reinterpret_cast<const char*>(bytes->data()),
                                                 bytes->size()));
  if (!w) return report(w.error());
}

}  // namespace

void register_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert among QEMU's migration stream, statewire's framed format and JSON, losslessly");
  cmd->add_option("in", args->in,
                  "Input: a QEMU stream, a framed stream or statewire tree JSON; - reads standard input")
      ->required()
      ->check(kInputFile);
  cmd->add_option("out", args->out, "Output file; - writes standard output")->required();
  cmd->add_option("--to", args->to, "Output format")->required()->check(CLI::IsMember({"qemu", "framed", "json"}));
  cmd->add_option("--compress", args->compress, "framed: compress records (none, zstd, lz4)")
      ->check(CLI::IsMember({"none", "zstd", "lz4"}));
  add_schema_options(*cmd, args->schema);
  cmd->callback([args] { run_convert(*args); });
}

}  // namespace statewire::cli
