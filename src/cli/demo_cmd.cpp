// `statewire demo`: the main job on shipped sample data. The example VM
// (examples/vm_model: a UART, a timer, a NIC) is a statewire::Registry of its
// devices. The demo saves it, shows the bytes and trees, loads it into a fresh
// VM through every codec and checks the objects and their trees agree; loads
// every older version's bytes into the newest code; and shows that refused
// loads (unknown section, version too new, section missing, a bad last
// section) leave the VM untouched; and migrates the evolving example model
// forward and backward between releases through transforms, checking the
// state field by field. Prints OK or FAIL; exit status 0 or 1.
// --save writes the sample VM as one stream; --load reads one back (after
// `convert` or an edit) and shows how it differs from the sample.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "evolving_model/model.hpp"
#include "statewire/codec.hpp"
#include "statewire/planner.hpp"
#include "statewire/registry.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/tree_diff.hpp"
#include "statewire/vmstate_body.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire::cli {

namespace {

using vm_model::Vm;

struct DemoArgs {
  std::size_t preview = 24;
  bool show_tree = true;
  bool schema_json = false;
  std::string save;  // write the sample VM here and stop
  std::string to = "qemu";
  std::string load;  // load this stream into a fresh VM and stop
};

std::string hex_preview(ByteSpan b, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < std::min(n, b.size()); ++i) out += fmt::format("{:02x} ", b[i]);
  if (b.size() > n) out += "...";
  return out;
}

// The registry of `vm`; the example's registrations cannot fail, so a failure
// is reported and ends the demo.
std::optional<Registry> registry_of(Vm& vm) {
  auto r = vm_model::vm_registry(vm);
  if (!r) {
    report(r.error());
    return std::nullopt;
  }
  return std::move(*r);
}

// Decodes registration i's saved body with its schema alone (as a peer
// without our C++ types would) and compares it with the tree built from the
// object.
Result<bool> trees_agree(const Registry& reg, std::size_t i) {
  ByteWriter w;
  SW_TRY(version, reg.save_body(i, w));
  const TestResolver tests = reg.test_resolver(i);
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(w.bytes());
  SW_TRY(decoded, decode_body(*reg.registrations()[i].schema, cur, version, opt));
  SW_TRY(rebuilt, reg.save_section(i));
  return decoded == rebuilt.body && cur.empty();
}

// Saves the VM with registration i at every version its description still
// accepts below its own, loads each stream into a fresh VM, and saves that VM
// again at the same versions: the bytes must come back.
bool older_versions(const Registry& reg, std::size_t i, const Codec& codec) {
  const Registration& r = reg.registrations()[i];
  bool ok = true;
  for (std::uint32_t v = r.minimum_version(); v < r.version(); ++v) {
    RegistrySaveOptions at_v;
    at_v.versions.emplace(r.section, v);
    ByteWriter body;
    auto body_ok = reg.save_body(i, body, at_v);
    auto bytes = reg.save(codec, at_v);
    Vm fresh;
    auto fresh_reg = registry_of(fresh);
    if (!fresh_reg) return false;
    Result<void> loaded = !body_ok ? Result<void>(fail(body_ok.error()))
                          : !bytes ? Result<void>(fail(bytes.error()))
                                   : fresh_reg->load(*bytes, codec);
    if (!loaded) {
      fmt::print("  {} v{}: FAIL {}\n", r.section, v, loaded.error().to_string());
      ok = false;
      continue;
    }
    auto again = fresh_reg->save(codec, at_v);
    const bool same = again && *again == *bytes;
    fmt::print("  {} v{} -> v{} code: {} bytes loaded, saved again for v{}: {}\n", r.section, v,
               r.version(), body.size(), v, same ? "same bytes" : "DIFFERENT");
    ok = ok && same;
  }
  return ok;
}

// Loads `bad` into a fresh VM, which must refuse it with `want` and keep
// every device as it was.
bool refused(std::string_view what, const StateStream& bad, Errc want) {
  Vm target;
  const Vm before = target;
  auto reg = registry_of(target);
  if (!reg) return false;
  Result<void> r = reg->load(bad);
  if (r) {
    fmt::print("  {}: loaded, NOT refused\n", what);
    return false;
  }
  const bool unchanged = target == before;
  fmt::print("  {}: {} ({}); VM unchanged: {}\n", what, r.error().to_string(),
             errc_name(r.error().code), unchanged ? "yes" : "NO");
  return r.error().code == want && unchanged;
}

bool show_refusals(const Registry& reg) {
  auto good = reg.save();
  if (!good) {
    report(good.error());
    return false;
  }
  bool ok = true;
  StateStream s = *good;
  Section rtc;
  rtc.name = "rtc";
  rtc.section_id = static_cast<std::uint32_t>(s.sections.size());
  rtc.version_id = 1;
  s.sections.push_back(rtc);
  ok = refused("a section the VM lacks", s, Errc::unknown_section) && ok;

  s = *good;
  s.sections.back().version_id = s.sections.back().version_id + 1;
  ok = refused("the nic from a newer build", s, Errc::version_too_new) && ok;

  s = *good;
  s.sections.erase(s.sections.begin() + 1);
  ok = refused("no timer section", s, Errc::not_found) && ok;

  // The last section is bad after two good ones: its ring index fails the
  // NIC's post_load, so the uart and timer, already staged, are not applied.
  Vm bad_vm = vm_model::make_sample_vm();
  bad_vm.nic.rx_head = static_cast<std::uint16_t>(vm_model::kNicRingSize + 1);
  auto bad_reg = registry_of(bad_vm);
  if (!bad_reg) return false;
  auto bad = bad_reg->save();
  if (!bad) {
    report(bad.error());
    return false;
  }
  ok = refused("a bad last section", *bad, Errc::hook_failed) && ok;
  return ok;
}

// One migration of the evolving example model (examples/evolving_model) from
// release `from` to release `to` on `machine`: the plan's steps per section,
// the load into the destination release, then, field by field, that the
// destination holds what was sent and that the way back gives the source's
// state again.
bool evolving_migration(std::uint32_t from, std::uint32_t to, std::string_view machine) {
  using namespace evolving_model;
  const Build& src = build(from);
  const Build& dst = build(to);
  fmt::print("  release {} on {} -> release {} (a busy guest: every feature of release {} in use)\n",
             from, machine, to, from);
  auto state = src.save(machine, Workload::busy);
  if (!state) {
    fmt::print("  save: FAIL {}\n", state.error().to_string());
    return false;
  }
  auto plan_into = [](const StateStream& s, const Build& b, const TestResolver& tests) {
    PlanOptions opt;
    opt.transforms = &transforms();
    opt.validate.tests = &tests;
    return plan_migration(s, b.catalog, opt);
  };
  const TestResolver dst_tests = dst.tests(machine), src_tests = src.tests(machine);
  MigrationPlan fwd = plan_into(*state, dst, dst_tests);
  for (const SectionPlan& sp : fwd.sections) {
    fmt::print("    {}: version {} -> {}{}\n", sp.section, sp.from, sp.to,
               sp.chain.empty() ? " (read as it is)" : "");
    for (const Transform* t : sp.chain) {
      fmt::print("      {}\n", t->label());
      for (const TransformOp& op : t->ops) fmt::print("        {}\n", op.to_string());
    }
  }
  for (const Error& e : fwd.refusals) fmt::print("    refused: {}\n", e.to_string());
  if (!fwd.ok()) return false;
  auto loaded = dst.reload(fwd.result, machine);
  if (!loaded) {
    fmt::print("    release {} refused the planned state: {}\n", to, loaded.error().to_string());
    return false;
  }
  // Field by field: every section the destination now holds against what arrived.
  const StateStream arrived = at_versions_of(fwd.result, *loaded, dst, dst_tests);
  bool ok = arrived.sections.size() == loaded->sections.size();
  for (std::size_t i = 0; i < loaded->sections.size() && i < arrived.sections.size(); ++i) {
    const Section& have = loaded->sections[i];
    const std::vector<Difference> d = diff(arrived.sections[i].body, have.body);
    std::string fields;
    for (const Member& m : have.body.members)
      fields += fmt::format("{}{}={}", fields.empty() ? "" : " ", m.name, to_text(m.value));
    for (const auto& sub : have.body.subsections) fields += " [" + sub.name + "]";
    if (fields.size() > 72) fields = fields.substr(0, 69) + "...";
    fmt::print("    release {} holds {}: {}: {}\n", to, have.label(),
               d.empty() ? "every field as sent" : "DIFFERENT", fields);
    for (const Difference& x : d) fmt::print("      {}: {}\n", x.path, x.what);
    ok = ok && d.empty();
  }
  // And back: the destination's own save, planned into the source release.
  MigrationPlan back = plan_into(*loaded, src, src_tests);
  for (const Error& e : back.refusals) fmt::print("    back: refused: {}\n", e.to_string());
  auto again = back.ok() ? src.reload(back.result, machine) : Result<StateStream>(fail(back.refusals.front()));
  const std::vector<Difference> round = again ? diff(*state, *again) : std::vector<Difference>{};
  fmt::print("    back to release {}: {}\n", from,
             !again ? "FAIL " + again.error().to_string()
             : round.empty() ? "the source's state, field by field"
                             : fmt::format("DIFFERENT in {} place(s)", round.size()));
  for (const Difference& x : round) fmt::print("      {}: {}\n", x.path, x.what);
  return ok && again && round.empty();
}

// `--save FILE`: the sample VM as one stream of the chosen codec.
int save_sample(const DemoArgs& args) {
  Vm vm = vm_model::make_sample_vm();
  auto reg = registry_of(vm);
  if (!reg) return kExitFailure;
  CodecOptions opt;
  opt.framed_encode.header.producer_version = STATEWIRE_VERSION;
  opt.framed_encode.header.machine_type = "statewire-example-vm";
  opt.framed_encode.fingerprints = reg->fingerprints();
  auto bytes = reg->save(*make_codec(args.to, opt));
  if (!bytes) {
    report(bytes.error());
    return kExitFailure;
  }
  auto w = write_file(args.save, std::string_view(reinterpret_cast<const char*>(bytes->data()),
                                                   bytes->size()));
  if (!w) {
    report(w.error());
    return kExitFailure;
  }
  if (args.save != "-")
    fmt::print("saved the example VM ({} sections, {} bytes, {}) to {}\n", reg->size(),
               bytes->size(), args.to, args.save);
  return kExitOk;
}

// `--load FILE`: loads a stream (any codec, recognised by its first bytes)
// into a fresh VM through the registry, and says how it differs from the
// sample (an edited stream shows its edits).
int load_file(const DemoArgs& args) {
  auto bytes = read_binary_file(args.load);
  if (!bytes) {
    report(bytes.error());
    return kExitFailure;
  }
  const auto codec = detect_codec(*bytes);
  if (!codec) {
    report(make_error(Errc::bad_magic, fmt::format("{}: not a qemu, framed or JSON stream", args.load)));
    return kExitFailure;
  }
  Vm vm;
  auto reg = registry_of(vm);
  if (!reg) return kExitFailure;
  if (auto r = reg->load(*bytes, *make_codec(*codec)); !r) {
    report(r.error());
    fmt::print("refused ({}): no device changed\n", errc_name(r.error().code));
    return kExitFailure;
  }
  fmt::print("loaded {} ({}) into a fresh VM: {} sections\n", args.load, *codec, reg->size());
  Vm sample = vm_model::make_sample_vm();
  auto sample_reg = registry_of(sample);
  if (!sample_reg) return kExitFailure;
  auto loaded_tree = reg->save();
  auto sample_tree = sample_reg->save();
  if (!loaded_tree || !sample_tree) {
    report(loaded_tree ? sample_tree.error() : loaded_tree.error());
    return kExitFailure;
  }
  const std::vector<Difference> d = diff(*sample_tree, *loaded_tree);
  if (d.empty()) {
    fmt::print("equals the sample VM: yes\n");
  } else {
    fmt::print("differs from the sample VM ({} differences):\n", d.size());
    for (const Difference& x : d) fmt::print("  {}: {}\n", x.path, x.what);
  }
  return kExitOk;
}

int run_demo(const DemoArgs& args) {
  if (!args.save.empty()) return save_sample(args);
  if (!args.load.empty()) return load_file(args);
  if (args.schema_json) {
    fmt::print("{}", to_schema_json(vm_model::vm_schemas(), SchemaJsonOptions{true}));
    return kExitOk;
  }
  Vm vm = vm_model::make_sample_vm();
  auto reg_or = registry_of(vm);
  if (!reg_or) return kExitFailure;
  const Registry& reg = *reg_or;
  fmt::print("statewire demo: an example VM (uart, timer, nic) described in C++ with statewire\n\n");

  fmt::print("1. save (each registered object -> QEMU VMState body bytes, no tree in between)\n");
  std::size_t total = 0;
  fmt::print("  {:<8} {:>7} {:>6}  {}\n", "section", "version", "bytes", "first bytes");
  for (std::size_t i = 0; i < reg.size(); ++i) {
    ByteWriter w;
    auto version = reg.save_body(i, w);
    if (!version) {
      report(version.error());
      return kExitFailure;
    }
    fmt::print("  {:<8} {:>7} {:>6}  {}\n", reg.registrations()[i].label(), *version, w.size(),
               hex_preview(w.bytes(), args.preview));
    total += w.size();
  }
  fmt::print("  {} sections, {} bytes\n\n", reg.size(), total);

  if (args.show_tree) {
    fmt::print("2. what was written (the state tree of each section)\n");
    auto tree = reg.save();
    if (!tree) {
      report(tree.error());
      return kExitFailure;
    }
    for (const Section& s : tree->sections) fmt::print("{}\n", to_text(s));
  }

  fmt::print("3. load into a fresh VM through each codec (every section staged, then applied)\n");
  bool ok = true;
  std::vector<std::string> equal_via;
  for (std::string_view name : codec_names()) {
    auto codec = make_codec(name);
    auto bytes = reg.save(*codec);
    Vm loaded;
    auto loaded_reg = registry_of(loaded);
    if (!loaded_reg) return kExitFailure;
    Result<void> r = bytes ? loaded_reg->load(*bytes, *codec) : Result<void>(fail(bytes.error()));
    if (!r) {
      fmt::print("  {}: FAIL {}\n", name, r.error().to_string());
      ok = false;
      continue;
    }
    fmt::print("  {:<6} {:>6} bytes, {} sections loaded\n", name, bytes->size(), loaded_reg->size());
    if (loaded == vm) equal_via.emplace_back(name);
  }

  fmt::print("\n4. check\n");
  const bool objects_equal = equal_via.size() == codec_names().size();
  fmt::print("  loaded objects equal the saved ones: {} ({})\n", objects_equal ? "yes" : "NO",
             fmt::join(equal_via, ", "));
  ok = ok && objects_equal;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    const std::string label = reg.registrations()[i].label();
    auto r = trees_agree(reg, i);
    if (!r) {
      fmt::print("  {}: tree check failed: {}\n", label, r.error().to_string());
      ok = false;
      continue;
    }
    fmt::print("  {}: tree of the object equals its bytes decoded by schema alone: {}\n", label,
               *r ? "yes" : "NO");
    ok = ok && *r;
  }

  fmt::print("\n5. older versions load into the newest code (through the qemu codec)\n");
  auto qemu = make_codec("qemu");
  for (std::size_t i = 0; i < reg.size(); ++i) ok = older_versions(reg, i, *qemu) && ok;

  fmt::print("\n6. refused loads change nothing\n");
  ok = show_refusals(reg) && ok;

  fmt::print("\n7. migrations between releases through transforms (examples/evolving_model)\n");
  fmt::print("  forward, to a newer release\n");
  ok = evolving_migration(1, 4, "demo-1.0") && ok;
  fmt::print("  backward, to an older release on an older machine type\n");
  ok = evolving_migration(4, 2, "demo-2.0") && ok;

  fmt::print("\n{}\n", ok ? "OK" : "FAIL");
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Save the example VM model, show the bytes and trees, load it back and check it");
  cmd->add_option("--preview", args->preview, "Bytes of each section to show in hex")
      ->capture_default_str();
  cmd->add_flag("!--no-tree", args->show_tree, "Do not print the state trees");
  cmd->add_flag("--schema-json", args->schema_json,
                "Print the example VM's schemas in -dump-vmstate JSON (extended) and stop");
  CLI::Option* save =
      cmd->add_option("--save", args->save, "Write the sample VM as one stream to FILE (- : stdout) and stop");
  cmd->add_option("--to", args->to, "Codec for --save")
      ->check(CLI::IsMember({"qemu", "framed", "json"}))
      ->capture_default_str();
  cmd->add_option("--load", args->load,
                  "Load a stream (qemu, framed or JSON) into a fresh VM, show how it differs "
                  "from the sample, and stop")
      ->check(kInputFile)
      ->excludes(save);
  cmd->callback([args] { set_exit_code(run_demo(*args)); });
}

}  // namespace statewire::cli
