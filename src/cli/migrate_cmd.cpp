// `statewire migrate`: a live migration of the example VM between two
// processes. The destination runs `migrate --listen ADDR`, the source
// `migrate --to ADDR`; the source's guest keeps writing its RAM while the
// pre-copy rounds run, stops for stop-and-copy, and the destination verifies
// that memory and devices equal the source's (docs/live-migration.md).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "cli/guest_workload.hpp"
#include "cli/migrate.hpp"
#include "evolving_model/model.hpp"
#include "statewire/session.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire::cli {

namespace {


std::atomic<bool> g_cancel{false};
extern "C" void on_sigint(int) { g_cancel.store(true); }

// The VM a side runs: the example VM model or a release of the evolving one.
struct Guest {
  std::string machine;
  std::vector<std::string> machines;  // what a destination of this build accepts
  Registry* registry = nullptr;
  const TransformSet* transforms = nullptr;
  TestResolver tests;
  std::function<void()> tick;  // the device model advancing while the guest runs

  std::unique_ptr<vm_model::Vm> vm;
  std::optional<Registry> vm_registry;
  std::unique_ptr<evolving_model::Instance> instance;
};

Result<std::unique_ptr<Guest>> make_guest(const MigrateArgs& a, bool source) {
  auto g = std::make_unique<Guest>();
  if (a.version == 0) {
    g->machine = a.machine.empty() ? "vm-model" : a.machine;
    g->machines = {"vm-model"};
    g->vm = std::make_unique<vm_model::Vm>(source ? vm_model::make_sample_vm() : vm_model::Vm{});
    SW_TRY(reg, vm_model::vm_registry(*g->vm));
    g->vm_registry.emplace(std::move(reg));
    g->registry = &*g->vm_registry;
    if (source) g->tick = [vm = g->vm.get()] { vm->timer.irq_count++; };
    return g;
  }
  if (a.version > evolving_model::kVersions)
    return fail(Errc::invalid_value, fmt::format("--version {}: the evolving model has releases 1..{}",
                                                 a.version, evolving_model::kVersions));
  const evolving_model::Build& b = evolving_model::build(a.version);
  g->machine = a.machine.empty() ? fmt::format("demo-{}.0", a.version) : a.machine;
  for (const auto& m : b.machines.machines) g->machines.push_back(m.name);
  SW_TRY(inst, b.instantiate(g->machine, source ? std::optional(evolving_model::Workload::busy)
                                                : std::nullopt));
  g->instance = std::move(inst);
  g->registry = &g->instance->registry();
  g->transforms = &evolving_model::transforms();
  g->tests = b.tests(g->machine);
  return g;
}

// A destination without --machine runs the machine type the source's hello
// names, when this release has it: the guest is made again for it.
Result<void> use_machine(Guest& g, const MigrateArgs& a, const std::string& machine) {
  const evolving_model::Build& b = evolving_model::build(a.version);
  SW_TRY(inst, b.instantiate(machine, std::nullopt));
  g.instance = std::move(inst);
  g.registry = &g.instance->registry();
  g.tests = b.tests(machine);
  g.machine = machine;
  return {};
}

CapabilitySet capabilities_for(const std::string& compress) {
  std::vector<std::string> names;
  const CapabilitySet all = supported_capabilities();
  for (const auto& n : all.names()) {
    if (n == caps::kCompressZstd && compress != "zstd") continue;
    if (n == caps::kCompressLz4 && compress != "lz4") continue;
    names.push_back(n);
  }
  return CapabilitySet(std::move(names));
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return fmt::format("{:.1f} {}", b, units[u]);
}

// One line on stderr, redrawn in place: what the issue asks a user to see.
void draw_progress(const RamProgress& p, std::uint64_t total) {
  const double pct = p.round_page_bytes_planned
                         ? 100.0 * p.round_page_bytes / p.round_page_bytes_planned
                         : 100.0;
  const int width = 24;
  const int filled = static_cast<int>(pct / 100.0 * width);
  fmt::print(stderr, "\r[{:<{}}] round {}{} {:>5.1f}%  {} sent (RAM {})  {:.0f} MB/s  remaining {}  "
                     "expected downtime {:.0f} ms   ",
             std::string(static_cast<std::size_t>(std::clamp(filled, 0, width)), '#'), width,
             p.round, p.final ? " (final)" : "", pct, human_bytes(p.total_page_bytes),
             human_bytes(total), p.rate / 1e6, human_bytes(p.remaining_dirty_bytes),
             p.expected_downtime * 1000.0);
  std::fflush(stderr);
}

nlohmann::ordered_json summary_json(const SessionSummary& s, const char* role) {
  nlohmann::ordered_json j;
  j["role"] = role;
  j["state"] = std::string(session_state_name(s.state));
  j["machine_type"] = s.machine_type;
  j["bytes"] = s.wire_bytes;
  j["memory_bytes"] = s.memory_bytes;
  j["device_bytes"] = s.device_bytes;
  j["seconds"] = s.seconds;
  j["memory_seconds"] = s.memory_seconds;
  j["memory_rate_mb_s"] = s.memory_seconds > 0 ? s.memory_bytes / s.memory_seconds / 1e6 : 0.0;
  j["verify_ms"] = s.verify_ms;
  j["rounds"] = s.rounds;
  j["downtime_ms"] = s.downtime_ms;
  j["expected_downtime_ms"] = s.expected_downtime_ms;
  j["channels"] = s.channels;
  j["compression"] = compression_name(s.settings.compression);
  j["page_crc"] = s.page_checksums;
  j["verified"] = s.state == SessionState::complete && s.verified();
  j["answer"] = s.answer;
  if (s.error) {
    j["error"] = s.error->to_string();
    j["error_from_peer"] = s.refused_by_peer;
  }
  return j;
}

void print_text(const SessionSummary& s, bool source) {
  if (s.state != SessionState::complete) {
    fmt::print("migration {}{}: {}\n", session_state_name(s.state),
               s.refused_by_peer ? (source ? " (the destination's answer)" : " (the source's word)")
                                 : "",
               s.error ? s.error->to_string() : std::string("?"));
    if (source) fmt::print("the source keeps running with its state unchanged\n");
    else fmt::print("nothing was applied\n");
    return;
  }
  fmt::print("migrated {} of memory and {} bytes of device state in {:.2f} s: {} round(s), {} data "
             "channel(s), compression {}\n",
             human_bytes(static_cast<double>(s.memory_bytes)), s.device_bytes, s.seconds, s.rounds,
             s.channels, compression_name(s.settings.compression));
  if (source)
    fmt::print("downtime {:.1f} ms (expected {:.1f} ms)\n", s.downtime_ms, s.expected_downtime_ms);
  fmt::print("{}: {}\n", source ? "destination" : "applied", s.answer);
  fmt::print("verified: {}\n", s.verified() ? "memory and device state equal the source's" : "NO");
}

}  // namespace

int run_migrate(const MigrateArgs& a) {
  const bool source = !a.to.empty();
  auto where = parse_endpoint(source ? a.to : a.listen);
  if (!where) return report(where.error()), kExitUsage;
  auto guest = make_guest(a, source);
  if (!guest) return report(guest.error()), kExitFailure;
  Guest& g = **guest;

  const std::uint64_t bytes = a.memory_mib << 20;
  auto ram = GuestRam::map(bytes);
  if (!ram) return report(ram.error()), kExitFailure;
  RegionSet regions;
  if (bytes) {
    if (source) ram->fill(0x5157a7e5eedull);
    MemoryRegion region{"ram", ram->data(), bytes, kDefaultPageSize};
    // The destination's RAM is a private anonymous mapping of its own: the
    // receiver may move its staging pages in at commit instead of copying.
    region.replace_on_commit = !source;
    auto id = regions.add(std::move(region));
    if (!id) return report(id.error()), kExitFailure;
  }

  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  const bool show = a.format == "text" && !a.quiet;
  const bool bar = show && source && ::isatty(2);
  StateObserver observe = [&](const StateChange& c) {
    if (!show) return;
    if (bar) fmt::print(stderr, "\n");
    fmt::print(stderr, "statewire migrate: {} -> {} ({:.3f} s): {}\n", session_state_name(c.from),
               session_state_name(c.to), c.seconds, c.why);
  };

  SessionSummary s;
  if (source) {
    ProgramDirtyTracker tracker;
    std::unique_ptr<GuestWriter> writer;
    if (bytes)
      writer = std::make_unique<GuestWriter>(*ram, tracker, a.dirty_rate * 1e6, g.tick);
    SessionMemory mem;
    mem.regions = bytes ? &regions : nullptr;
    mem.tracker = &tracker;
    mem.policy.downtime_target = std::chrono::milliseconds(a.downtime_ms);
    mem.policy.max_rounds = a.max_rounds;
    mem.bandwidth_limit = static_cast<std::uint64_t>(a.bandwidth * 1e6);
    if (bar) mem.progress = [bytes](const RamProgress& p) { draw_progress(p, bytes); };
    SourceOptions o;
    o.machine_type = g.machine;
    o.capabilities = capabilities_for(a.compress);
    o.channels = a.channels;
    if (a.page_crc) o.page_checksums = true;
    o.timeout = Timeout(a.timeout_ms);
    o.connect_timeout = Timeout(std::min(a.timeout_ms, 5000u));
    o.on_state = observe;
    o.cancel = &g_cancel;
    o.pause = [&] { if (writer) writer->pause(); };
    o.resume = [&] { if (writer) writer->resume(); };
    s = migrate_source(*g.registry, mem, *where, o);
    if (bar) fmt::print(stderr, "\n");
  } else {
    auto listener = Listener::open(*where);
    if (!listener) return report(listener.error()), kExitFailure;
    // --machine is a requirement; without it the source's hello names the
    // machine type, and any this build runs is taken.
    const std::vector<std::string> accepted =
        a.machine.empty() ? g.machines : std::vector<std::string>{a.machine};
    if (show)
      fmt::print(stderr, "statewire migrate: waiting on {} ({}, machine types: {}{})\n",
                 listener->local().to_string(),
                 a.version ? fmt::format("evolving model release {}", a.version) : "vm model",
                 fmt::join(accepted, ", "), a.machine.empty() ? ", as the source's hello says" : "");
    SessionMemory mem;
    mem.regions = bytes ? &regions : nullptr;
    DestinationOptions o;
    o.machine_types = accepted;
    if (a.machine.empty() && a.version != 0)
      o.select_machine = [&g, &a](const std::string& machine) -> Result<Registry*> {
        // One this build does not run is left to the handshake's refusal.
        if (machine != g.machine &&
            std::find(g.machines.begin(), g.machines.end(), machine) != g.machines.end())
          SW_CHECK(use_machine(g, a, machine));
        return g.registry;
      };
    o.capabilities = supported_capabilities();  // the source chooses compression
    o.accept_timeout = Timeout(a.timeout_ms);
    o.timeout = Timeout(a.timeout_ms);
    o.on_state = observe;
    o.cancel = &g_cancel;
    o.transforms = g.transforms;
    o.tests = &g.tests;
    s = migrate_destination(*g.registry, mem, *listener, o);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  if (a.format == "json") {
    fmt::print("{}\n", summary_json(s, source ? "source" : "destination").dump(2));
  } else {
    print_text(s, source);
  }
  return s.state == SessionState::complete && s.verified() ? kExitOk : kExitFailure;
}

void register_migrate(CLI::App& app) {
  auto a = std::make_shared<MigrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "migrate",
      "Live-migrate the example VM between two processes: 'migrate --listen ADDR' on the "
      "destination, 'migrate --to ADDR' on the source");
  auto* listen = cmd->add_option("--listen", a->listen,
                                 "Destination: wait for a source at ADDR (tcp:HOST:PORT, unix:PATH)");
  auto* to = cmd->add_option("--to", a->to, "Source: migrate to the destination at ADDR");
  auto* demo = cmd->add_flag("--demo", a->demo,
                             "Both sides from one command: start the destination as a child "
                             "process on a unix socket and migrate into it (a guest dirtying 50 MB/s "
                             "unless --dirty-rate)");
  listen->excludes(to);
  to->excludes(listen);
  demo->excludes(listen);
  demo->excludes(to);
  cmd->add_option("--version", a->version,
                  "Run release N (1..4) of the evolving model instead of the example VM; the "
                  "two sides may run different releases (transforms, or a refusal)");
  cmd->add_option("--machine", a->machine,
                  "Machine type (evolving model: demo-N.0 by default; give both sides an older "
                  "one, e.g. demo-2.0, to migrate across releases)");
  cmd->add_option("--memory", a->memory_mib, "Guest RAM in MiB (both sides: the same)")
      ->capture_default_str();
  cmd->add_option("--dirty-rate", a->dirty_rate, "Source: MB/s of pages the guest dirties while migrating")
      ->capture_default_str();
  cmd->add_option("--downtime-ms", a->downtime_ms, "Source: downtime target of the pre-copy policy")
      ->capture_default_str();
  cmd->add_option("--max-rounds", a->max_rounds, "Source: pre-copy rounds before stopping anyway")
      ->capture_default_str();
  cmd->add_option("--channels", a->channels, "Source: data channels in parallel (1..64)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--compress", a->compress, "Source: compress pages (if both sides agree)")
      ->check(CLI::IsMember({"none", "zstd", "lz4"}))
      ->capture_default_str();
  cmd->add_option("--bandwidth", a->bandwidth, "Source: cap in MB/s over all channels (0: none)")
      ->capture_default_str();
  cmd->add_option("--format", a->format, "Summary: text, or json (bytes, seconds, rounds, "
                                         "downtime_ms, channels, verified)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--timeout-ms", a->timeout_ms, "Bound on every wait for the peer")
      ->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "No state changes or progress on stderr");
  cmd->add_flag("--page-crc", a->page_crc,
                "Source: a CRC32C of every page on the data channels (off by default on sockets: "
                "the end-to-end memory digest checks every page before anything is applied)");
  cmd->callback([a, cmd] {
    if (a->demo) {
      set_exit_code(run_migrate_demo(*a));
      return;
    }
    if (a->listen.empty() && a->to.empty()) {
      fmt::print(stderr, "statewire migrate: give --listen ADDR (destination), --to ADDR (source) or --demo\n{}",
                 cmd->help());
      set_exit_code(kExitUsage);
      return;
    }
    set_exit_code(run_migrate(*a));
  });
}

}  // namespace statewire::cli
