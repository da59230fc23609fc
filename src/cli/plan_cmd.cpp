// `statewire plan STREAM --to-schema DUMP.json [--rules FILE] [--format text|json]`:
// the transforms that would run per section and every reason the destination
// would refuse the state, without writing anything. `plan --example S
// --machine M --to-version D` does the same for the evolving example model.
// Exit codes as `check`: 0 accepted, 1 refused, 2 wrong arguments or unreadable input.
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/compat_setup.hpp"
#include "evolving_model/model.hpp"
#include "statewire/rules_file.hpp"

namespace statewire::cli {

namespace {

constexpr int kExitAccepted = 0;
constexpr int kExitRefused = 1;
constexpr int kExitBadInput = 2;

struct PlanArgs {
  std::string stream;
  CompatArgs compat;
  QemuSchemaArgs schema;
  std::string format = "text";
  std::uint32_t example = 0, to_version = 0;
  std::string machine;
};

void unreadable(const Error& e) {
  fmt::print(stderr, "statewire: error: {} [{}]\n", e.to_string(), errc_name(e.code));
  set_exit_code(kExitBadInput);
}

void print(const MigrationPlan& plan, const std::string& format) {
  fmt::print("{}", format == "json" ? render_plan_json(plan) : render_plan_text(plan));
  set_exit_code(plan.ok() ? kExitAccepted : kExitRefused);
}

void run_example(const PlanArgs& a) {
  using namespace evolving_model;
  if (a.example < 1 || a.example > kVersions || a.to_version < 1 || a.to_version > kVersions)
    return unreadable(make_error(Errc::invalid_value,
                                 fmt::format("example versions are 1..{}", kVersions)));
  const Build& src = build(a.example);
  const Build& dst = build(a.to_version);
  auto state = src.save(a.machine, Workload::busy);
  if (!state) return unreadable(state.error());
  TransformSet set = transforms();
  for (const auto& path : a.compat.rules) {
    auto r = load_rules_file(path);
    if (!r) return unreadable(r.error());
    set.add_all(*r);
  }
  MigrationPlan plan;
  if (auto idx = evolving_model::detail::machine_index(dst.machines, a.machine, a.to_version); !idx) {
    plan.refusals.push_back(idx.error());
  } else {
    TestResolver tests = dst.tests(a.machine);
    PlanOptions opt;
    opt.transforms = &set;
    opt.validate.tests = &tests;
    plan = plan_migration(std::move(*state), dst.catalog, opt);
  }
  print(plan, a.format);
}

void run_plan(const PlanArgs& a) {
  if (a.example) return run_example(a);
  if (a.stream.empty() || a.compat.to_schema.empty())
    return unreadable(make_error(Errc::invalid_value,
                                 "plan needs STREAM and --to-schema (or --example)"));
  CompatSetup setup;
  if (auto r = make_compat_setup(a.compat, setup); !r) return unreadable(r.error());
  auto file = MappedFile::open(a.stream);
  if (!file) return unreadable(file.error());
  auto tree = load_stream(a.stream, *file, a.schema);
  if (!tree) return unreadable(tree.error());
  print(plan_migration(std::move(*tree), setup.catalog, setup.options), a.format);
}

}  // namespace

void register_plan(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plan", "Show the transforms that make a stream loadable by a destination, and every "
              "reason it would be refused (writes nothing)");
  cmd->add_option("stream", args->stream, "QEMU stream, framed stream or tree JSON; - reads standard input")
      ->check(kInputFile);
  add_to_schema_option(*cmd, args->compat, false);
  add_rules_option(*cmd, args->compat);
  add_schema_options(*cmd, args->schema);
  cmd->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--example", args->example,
                  "Plan for the evolving example model instead: the source release (1..4)");
  cmd->add_option("--machine", args->machine, "--example: the machine type (demo-1.0 .. demo-4.0, demo)")
      ->default_val("demo-1.0");
  cmd->add_option("--to-version", args->to_version, "--example: the destination release (1..4)");
  cmd->callback([args] { run_plan(*args); });
}

}  // namespace statewire::cli
