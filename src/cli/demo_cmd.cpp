// `statewire demo`: the main job on shipped sample data. Saves the example VM
// (examples/vm_model: a UART, a timer, a NIC) as QEMU VMState section bodies,
// shows what it wrote, loads it back into fresh devices and checks that the
// objects and their trees agree; then loads every older version's bytes into
// the newest code. Prints OK or FAIL; exit status 0 or 1.
#include <fmt/format.h>

#include <algorithm>

#include "cli/commands.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/vmstate_body.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire::cli {

namespace {

struct DemoArgs {
  std::size_t preview = 24;
  bool show_tree = true;
  bool schema_json = false;
};

std::string hex_preview(const Bytes& b, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < std::min(n, b.size()); ++i) out += fmt::format("{:02x} ", b[i]);
  if (b.size() > n) out += "...";
  return out;
}

// Decodes a saved body with the schema alone (as a peer without our C++ types
// would) and compares it with the tree built from the loaded object.
template <class T>
Result<bool> trees_agree(const NativeDescription<T>& d, const T& loaded, const Bytes& body,
                         std::uint32_t version) {
  const TestResolver tests = d.test_resolver();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(body);
  SW_TRY(decoded, decode_body(d.schema(), cur, version, opt));
  SW_TRY(rebuilt, d.to_tree(loaded, SaveOptions{version}));
  return decoded == rebuilt && cur.empty();
}

// Saves `obj` at every version the description still accepts below its own,
// loads each into a fresh object and reports how many bytes that version had.
template <class T>
bool older_versions(const NativeDescription<T>& d, const T& obj) {
  bool ok = true;
  for (std::uint32_t v = d.minimum_version(); v < d.version(); ++v) {
    auto bytes = d.save(obj, SaveOptions{v});
    T fresh{};
    Result<void> r = bytes ? d.load(fresh, *bytes, v) : Result<void>(fail(bytes.error()));
    if (!r) {
      fmt::print("  {} v{}: FAIL {}\n", d.name(), v, r.error().to_string());
      ok = false;
      continue;
    }
    // Saving the loaded object for that version again must give the same bytes.
    auto again = d.save(fresh, SaveOptions{v});
    const bool same = again && *again == *bytes;
    fmt::print("  {} v{} -> v{} code: {} bytes loaded, saved again for v{}: {}\n", d.name(), v,
               d.version(), bytes->size(), v, same ? "same bytes" : "DIFFERENT");
    ok = ok && same;
  }
  return ok;
}

int run_demo(const DemoArgs& args) {
  using namespace vm_model;
  if (args.schema_json) {
    fmt::print("{}", to_schema_json(vm_schemas(), SchemaJsonOptions{true}));
    return kExitOk;
  }
  const Vm vm = make_sample_vm();
  fmt::print("statewire demo: an example VM (uart, timer, nic) described in C++ with statewire\n\n");

  fmt::print("1. save (object -> QEMU VMState body bytes, no tree in between)\n");
  auto sections = save_vm(vm);
  if (!sections) {
    report(sections.error());
    return kExitFailure;
  }
  std::size_t total = 0;
  fmt::print("  {:<8} {:>7} {:>6}  {}\n", "section", "version", "bytes", "first bytes");
  for (const SavedSection& s : *sections) {
    fmt::print("  {:<8} {:>7} {:>6}  {}\n", s.name, s.version, s.body.size(),
               hex_preview(s.body, args.preview));
    total += s.body.size();
  }
  fmt::print("  {} sections, {} bytes\n\n", sections->size(), total);

  if (args.show_tree) {
    fmt::print("2. what was written (the state tree of each section)\n");
    auto tree = vm_to_tree(vm);
    if (!tree) {
      report(tree.error());
      return kExitFailure;
    }
    for (const Section& s : tree->sections) fmt::print("{}\n", to_text(s));
  }

  fmt::print("3. load into fresh devices\n");
  Vm loaded;
  if (auto r = load_vm(loaded, *sections); !r) {
    report(r.error());
    fmt::print("FAIL\n");
    return kExitFailure;
  }
  for (const SavedSection& s : *sections)
    fmt::print("  {} v{}: {} bytes loaded\n", s.name, s.version, s.body.size());

  fmt::print("\n4. check\n");
  bool ok = true;
  const bool objects_equal = loaded == vm;
  fmt::print("  loaded objects equal the saved ones: {}\n", objects_equal ? "yes" : "NO");
  ok = ok && objects_equal;
  auto agree = [&](const auto& d, const auto& obj, const SavedSection& s) {
    auto r = trees_agree(d, obj, s.body, s.version);
    if (!r) {
      fmt::print("  {}: tree check failed: {}\n", s.name, r.error().to_string());
      return false;
    }
    fmt::print("  {}: tree of the loaded object equals the bytes decoded by schema alone: {}\n",
               s.name, *r ? "yes" : "NO");
    return *r;
  };
  ok = agree(uart_description(), loaded.uart, (*sections)[0]) && ok;
  ok = agree(timer_description(), loaded.timer, (*sections)[1]) && ok;
  ok = agree(nic_description(), loaded.nic, (*sections)[2]) && ok;

  fmt::print("\n5. older versions load into the newest code\n");
  ok = older_versions(uart_description(), vm.uart) && ok;
  ok = older_versions(timer_description(), vm.timer) && ok;
  ok = older_versions(nic_description(), vm.nic) && ok;

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
  cmd->callback([args] { set_exit_code(run_demo(*args)); });
}

}  // namespace statewire::cli
