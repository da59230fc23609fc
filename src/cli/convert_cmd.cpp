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
#include "cli/mapped_file.hpp"
#include "cli/qemu_options.hpp"
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

Result<StateStream> load_tree(const ConvertArgs& args, const MappedFile& file) {
  ByteSpan b = file.bytes();
  if (b.size() >= 4 && std::memcmp(b.data(), "QEVM", 4) == 0) {
    SW_TRY(opts, make_decode_options(args.schema));
    if (b.size() >= (64u << 20))  // see analyze_cmd.cpp
      opts.options.bulk_read = [&file](std::uint64_t off, std::span<std::uint8_t> dst) {
        return file.read_at(off, dst);
      };
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
    return Unexpected(std::move(e.in_section(args.in)));
  }
  std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  auto tree = stream_from_json(text);
  if (!tree) return Unexpected(std::move(tree.error().in_section(args.in)));
  return tree;
}

// Which schema explained each device section of a QEMU stream, as
// fingerprints by section name, for the framed format's provenance.
class FingerprintCollector final : public qemu::QemuStreamVisitor {
 public:
  Result<void> on_device_body(const qemu::SectionHeader& h, Struct&&, ByteSpan, qemu::SchemaSource,
                              const Description* schema) override {
    if (schema) fingerprints[h.idstr] = schema_fingerprint(*schema);
    return {};
  }
  std::map<std::string, std::uint64_t, std::less<>> fingerprints;
};

Result<std::map<std::string, std::uint64_t, std::less<>>> qemu_fingerprints(const ConvertArgs& args,
                                                                             const MappedFile& file) {
  ByteSpan b = file.bytes();
  if (b.size() < 4 || std::memcmp(b.data(), "QEVM", 4) != 0) return std::map<std::string, std::uint64_t, std::less<>>{};
  SW_TRY(opts, make_decode_options(args.schema));
  opts.options.verify_reencode = false;
  FingerprintCollector c;
  SW_CHECK(qemu::scan_qemu_stream(b, c, opts.options));
  return std::move(c.fingerprints);
}

void run_convert(const ConvertArgs& args) {
  // Opened once: standard input can be read only once.
  auto file = MappedFile::open(args.in);
  if (!file) return report(file.error());
  auto tree = load_tree(args, *file);
  if (!tree) return report(tree.error());
  if (args.to == "json") {
    auto w = write_file(args.out, to_json(*tree));
    if (!w) return report(w.error());
    return;
  }
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
  if (const Value* cfg = tree->envelope.find(qemu::keys::kConfiguration)) {
    // The QEMU configuration section names the machine type.
    if (const Struct* c = cfg->get_if<Struct>())
      if (const Value* name = c->find("name"))
        if (const Blob* b = name->get_if<Blob>())
          opt.framed_encode.header.machine_type.assign(b->bytes.begin(), b->bytes.end());
  }
  if (args.to == "framed") {
    auto fps = qemu_fingerprints(args, *file);
    if (!fps) return report(fps.error());
    opt.framed_encode.fingerprints = std::move(*fps);
  }
  auto bytes = make_codec(args.to, opt)->encode(*tree);
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
