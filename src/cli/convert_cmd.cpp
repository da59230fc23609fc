// `statewire convert IN OUT --to qemu|framed|json`: between QEMU's migration
// stream, statewire's framed format and the lossless tree JSON. The input
// format is recognised by its first bytes ("QEVM", the framed magic, else
// JSON). Every path is lossless: qemu -> framed -> json -> qemu gives the
// original bytes; edit a field in the JSON to change it in the stream.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "cli/commands.hpp"
#include "cli/compat_setup.hpp"
#include "cli/io.hpp"
#include "cli/mapped_file.hpp"
#include "cli/qemu_options.hpp"
#include "cli/stream_convert.hpp"
#include "cli/stream_input.hpp"
#include "statewire/capabilities.hpp"
#include "statewire/codec.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/schema_catalog.hpp"
#include "statewire/tree_json.hpp"
#include "statewire/validate.hpp"

namespace statewire::cli {

namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string to;
  std::string compress = "none";
  QemuSchemaArgs schema;
  bool force = false;
  CompatArgs compat;
};

void write_tree(const ConvertArgs& args, const StateStream& tree, bool planned = false);

// What the destination reads: the --schema dump when given (plus the
// sections dumps never list), else the stream's own description trailer.
// nullopt: neither exists, so nothing can be checked.
Result<std::optional<SchemaCatalog>> destination_schemas(const ConvertArgs& args,
                                                         const StateStream& tree) {
  if (!args.schema.dump_path.empty()) {
    SW_TRY(opts, make_decode_options(args.schema));
    SchemaCatalog c = SchemaCatalog::from_dump(*opts.dump);
    for (auto& d : qemu::builtin_qemu_descriptions()) c.add(std::move(d));
    return std::optional<SchemaCatalog>(std::move(c));
  }
  const Value* t = tree.envelope.find(qemu::keys::kTrailer);
  if (!t || !t->get_if<std::string>()) return std::optional<SchemaCatalog>();
  auto c = SchemaCatalog::from_trailer(*t->get_if<std::string>());
  if (!c) return Unexpected(std::move(c.error().in_section("description trailer")));
  return std::optional<SchemaCatalog>(std::move(*c));
}

// A QEMU stream written from a tree is checked first: QEMU itself would only
// say "Missing section footer" after loading half a VM.
bool validated_for_qemu(const ConvertArgs& args, const StateStream& tree) {
  auto catalog = destination_schemas(args, tree);
  if (!catalog) {
    report(catalog.error());
    return false;
  }
  if (!*catalog) {
    fmt::print(stderr,
               "statewire: warning: the stream has no description trailer and no --schema was "
               "given: sections are written unchecked\n");
    return true;
  }
  const SchemaCatalog& c = **catalog;
  ValidateOptions opt;
  opt.dump_schema = !args.schema.dump_path.empty();
  auto v = validate_stream(tree, [&c](const Section& s) { return c.find_all(s.name, s.instance_id); }, opt);
  if (v.ok()) return true;
  const char* what = args.force ? "warning" : "error";
  for (const auto& e : v.problems)
    fmt::print(stderr, "statewire: {}: {} [{}]\n", what, e.to_string(), errc_name(e.code));
  fmt::print(stderr, "statewire: {}: {} problem(s) QEMU would refuse ({}){}\n", what,
             v.problems.size(),
             args.schema.dump_path.empty() ? "checked against the stream's description trailer"
                                           : "checked against " + args.schema.dump_path,
             args.force ? "; written anyway (--force)" : "; nothing written (--force writes anyway)");
  if (args.force) return true;
  set_exit_code(kExitFailure);
  return false;
}

// --to-schema: plan into the destination's schemas (refusing what cannot be
// made acceptable); --rules alone: apply each rule whose section and version
// match, in file order (no destination to judge conditions by).
bool transformed(const ConvertArgs& args, StateStream& tree) {
  CompatSetup setup;
  if (auto r = make_compat_setup(args.compat, setup); !r) {
    report(r.error());
    return false;
  }
  // Stream rewrites first (section ids, machine type): the plan and the
  // rules then see the names the destination knows.
  auto renamed = apply_stream_rewrites(setup.transforms.stream(), tree);
  if (!renamed) {
    report(renamed.error());
    return false;
  }
  std::vector<std::string> changed;
  if (!args.compat.to_schema.empty()) {
    MigrationPlan plan = plan_migration(std::move(tree), setup.catalog, setup.options);
    const char* what = args.force ? "warning" : "error";
    for (const auto& e : plan.refusals)
      fmt::print(stderr, "statewire: {}: {} [{}]\n", what, e.to_string(), errc_name(e.code));
    if (!plan.ok()) {
      fmt::print(stderr, "statewire: {}: {} reason(s) {} would refuse the state{}\n", what,
                 plan.refusals.size(), args.compat.to_schema,
                 args.force ? "; written anyway (--force)" : "; nothing written (--force writes anyway)");
      if (!args.force) {
        set_exit_code(kExitFailure);
        return false;
      }
    }
    for (const auto& s : plan.sections)
      if (!s.chain.empty()) changed.push_back(s.section);
    tree = std::move(plan.result);
  } else {
    for (std::size_t i = 0; i < tree.sections.size(); ++i) {
      const std::string label = tree.sections[i].label();
      for (const auto& t : setup.transforms.all()) {
        if (t.origin == "built-in") continue;
        if (t.section != SchemaCatalog::vmsd_name(tree.sections[i].name) ||
            t.from != tree.sections[i].version_id)
          continue;
        if (auto r = apply_transform(t, tree, i); !r) {
          report(r.error());
          return false;
        }
        changed.push_back(label);
      }
    }
  }
  if (auto r = qemu::rewrite_description_trailer(tree, changed); !r) {
    report(r.error());
    return false;
  }
  return true;
}

// Transforms need the whole state as a tree: the input is read whole.
void run_transforming(const ConvertArgs& args) {
  auto file = MappedFile::open(args.in);
  if (!file) return report(file.error());
  auto tree = load_stream(args.in, *file, args.schema);
  if (!tree) return report(tree.error());
  if (!transformed(args, *tree)) return;
  write_tree(args, *tree, !args.compat.to_schema.empty());
}

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
  // Writing QEMU's stream: each section is checked as QEMU would load it
  // before it is written (--schema, else the input's own trailer).
  SectionChecks checks;
  std::optional<SchemaCatalog> dump;
  if (args.to == "qemu") {
    if (!args.schema.dump_path.empty()) {
      auto decode = make_decode_options(args.schema);
      if (!decode) return report(decode.error());
      dump = SchemaCatalog::from_dump(*decode->dump);
      for (auto& d : qemu::builtin_qemu_descriptions()) dump->add(std::move(d));
      checks.schemas = &*dump;
      checks.schemas_name = args.schema.dump_path;
      checks.validate.dump_schema = true;
    }
    checks.force = args.force;
  }
  auto out = StreamOutput::open(args.out);
  if (!out) return report(out.error());
  auto r = stream_convert(in, from, **out, args.to, std::move(opt), args.to == "qemu" ? &checks : nullptr);
  if (!r) return report(r.error());
  auto done = (*out)->commit();
  if (!done) return report(done.error());
}

void run_convert(const ConvertArgs& args) {
  if (!args.compat.to_schema.empty() || !args.compat.rules.empty()) return run_transforming(args);
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
    if (!detect_codec(*text)) {
      // Neither magic nor a JSON object: say what was expected, not "bad JSON".
      Error e = make_error(Errc::bad_magic,
                           fmt::format("not a QEMU stream, framed file or JSON (first bytes: {:02x})",
                                       fmt::join(ByteSpan(*text).first(std::min<std::size_t>(text->size(), 8)), " ")));
      e.offset = 0;
      return report(e.in_section(args.in));
    }
    auto tree = stream_from_json(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
    if (!tree) return report(tree.error().in_section(args.in));
    return write_tree(args, *tree);
  }
}

void write_tree(const ConvertArgs& args, const StateStream& tree, bool planned) {
  if (args.to == "json") {
    auto w = write_file(args.out, to_json(tree));
    if (!w) return report(w.error());
    return;
  }
  // A planned tree was validated against the destination already.
  if (args.to == "qemu" && !planned && !validated_for_qemu(args, tree)) return;
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
  cmd->add_flag("--force", args->force,
                "Write even when a section does not match the stream's description trailer "
                "(or --schema, or --to-schema), which QEMU would refuse");
  add_to_schema_option(*cmd, args->compat, false);
  add_rules_option(*cmd, args->compat);
  cmd->callback([args] { run_convert(*args); });
}

}  // namespace statewire::cli
