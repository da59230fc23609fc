// `statewire proxy --listen ADDR --to ADDR [--to-schema DUMP] [--rules FILE]
// [--from-schema DUMP] [--rename OLD=NEW] [--machine-type NAME]`: a live QEMU
// migration passed through statewire (docs/proxy.md). The source QEMU
// migrates to --listen, the proxy connects to the destination QEMU's
// -incoming address; `-` on both sides runs it on standard input and output
// for exec: migrations. Exit 0 when the migration went through, 1 when it
// failed (the reason is printed), 2 for wrong arguments or unreachable peers.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "cli/commands.hpp"
#include "cli/compat_setup.hpp"
#include "cli/io.hpp"
#include "statewire/channel.hpp"
#include "statewire/proxy.hpp"

namespace statewire::cli {

namespace {

struct ProxyArgs {
  std::string listen, to, from_schema, format = "text", machine_type;
  std::vector<std::string> renames;
  CompatArgs compat;
  double timeout = 60, accept_timeout = 300;
  int socket_buffer = 256 * 1024;
  bool quiet = false, multifd = false;
};

void unreachable(const Error& e) {
  fmt::print(stderr, "statewire: error: {} [{}]\n", e.to_string(), errc_name(e.code));
  set_exit_code(kExitUsage);
}

Timeout seconds(double s) { return Timeout(static_cast<std::int64_t>(s * 1000)); }

void run_proxy_cmd(const ProxyArgs& a) {
  auto listen = parse_endpoint(a.listen);
  if (!listen) return unreachable(listen.error());
  auto to = parse_endpoint(a.to);
  if (!to) return unreachable(to.error());

  CompatSetup setup;
  if (auto r = make_compat_setup(a.compat, setup); !r) return unreachable(r.error());
  SchemaSet from_dump;
  ProxyOptions opt;
  if (!a.from_schema.empty()) {
    auto d = read_schema_dump(a.from_schema);
    if (!d) return unreachable(d.error());
    from_dump = std::move(*d);
    opt.source_dump = &from_dump;
  }
  opt.destination = &setup.catalog;
  opt.plan = &setup.options;
  // Without a destination, the rules files' own transforms (not QEMU's
  // built-in repairs) are applied by section name and version; a rules file
  // with stream rewrites only changes no body, and nothing is held for it.
  const bool rule_transforms =
      std::any_of(setup.transforms.all().begin(), setup.transforms.all().end(),
                  [](const Transform& t) { return t.origin != "built-in"; });
  opt.apply_rules_without_plan = a.compat.to_schema.empty() && rule_transforms;
  // --rename and --machine-type are shorthands for the rules files' stream
  // operations; both together must agree.
  const StreamRewrites& rw = setup.transforms.stream();
  opt.renames = rw.renames;
  opt.machine_type = rw.machine_type;
  for (const auto& r : a.renames) {
    const auto eq = r.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == r.size() || r.size() - eq - 1 > 255)
      return unreachable(make_error(
          Errc::invalid_value, fmt::format("--rename {}: expected OLD=NEW section ids (NEW at most "
                                           "255 bytes)", r)));
    std::string from = r.substr(0, eq), to = r.substr(eq + 1);
    for (const auto& [f, t] : opt.renames)
      if (f == from && t != to)
        return unreachable(make_error(
            Errc::invalid_value, fmt::format("--rename {}: a rules file renames {} to {}", r, f, t)));
    if (std::find(opt.renames.begin(), opt.renames.end(), std::pair{from, to}) == opt.renames.end())
      opt.renames.emplace_back(std::move(from), std::move(to));
  }
  if (!a.machine_type.empty()) {
    if (opt.machine_type && *opt.machine_type != a.machine_type)
      return unreachable(make_error(
          Errc::invalid_value, fmt::format("--machine-type {}: a rules file sets {}", a.machine_type,
                                           *opt.machine_type)));
    opt.machine_type = a.machine_type;
  }
  opt.idle_timeout = seconds(a.timeout);
  opt.socket_buffer = a.socket_buffer;
  // The return path: on sockets the same connections; with one side on the
  // standard streams (an exec: command, which QEMU opens both ways) the other
  // standard stream. With both on them (a file through the proxy) there is none.
  const bool listen_stdio = listen->kind == Endpoint::Kind::stdio;
  const bool to_stdio = to->kind == Endpoint::Kind::stdio;
  opt.return_path = (listen->is_socket() || listen_stdio) && (to->is_socket() || to_stdio) &&
                    !(listen_stdio && to_stdio);
  Channel back;
  if (opt.return_path && listen_stdio) {
    back = Channel::adopt(1, "standard output (the source's return path)", false);
    opt.source_back = &back;
  } else if (opt.return_path && to_stdio) {
    back = Channel::adopt(0, "standard input (the destination's return path)", false);
    opt.destination_back = &back;
  }
  const bool to_stdout = to->kind == Endpoint::Kind::stdio;
  if (!a.quiet) {
    opt.progress = [to_stdout](const ProxyProgress& p) {
      const double rate = p.seconds > 0 ? double(p.bytes_out) / p.seconds / (1 << 20) : 0;
      fmt::print(stderr, "\rproxy: {:.1f} MiB forwarded, {:.1f} MiB/s, {} section(s) rewritten{}",
                 double(p.bytes_out) / (1 << 20), rate, p.sections_rewritten,
                 p.final ? "\n" : "   ");
      (void)to_stdout;
      std::fflush(stderr);
    };
  }

  // The source first (it may come much later than the proxy starts), then
  // the destination, which must already be listening (-incoming).
  if (a.multifd && !(listen->is_socket() && to->is_socket()))
    return unreachable(make_error(Errc::invalid_value,
                                  "--multifd needs tcp: or unix: addresses on both sides"));
  Channel source;
  std::optional<Listener> listener;  // kept open for multifd channels
  if (listen->is_socket()) {
    auto l = Listener::open(*listen);
    if (!l) return unreachable(l.error());
    fmt::print(stderr, "proxy: listening on {}\n", l->local().to_string());
    std::fflush(stderr);
    auto c = l->accept(seconds(a.accept_timeout));
    if (!c) return unreachable(c.error());
    source = std::move(*c);
    listener = std::move(*l);
  } else {
    auto c = open_channel(*listen, Direction::receive, seconds(a.timeout));
    if (!c) return unreachable(c.error());
    source = std::move(*c);
  }
  auto dest = open_channel(*to, Direction::send, seconds(a.timeout));
  if (!dest) {
    // The source's migration must fail, not wait: closing its connection does it.
    source.close();
    return unreachable(dest.error());
  }
  if (a.multifd) {
    // The main channel's destination connection is open: later ones are
    // the destination's multifd channels.
    opt.more_sources = &*listener;
    const Endpoint dest_addr = *to;
    const Timeout t = seconds(a.timeout);
    opt.connect_destination = [dest_addr, t] { return open_channel(dest_addr, Direction::send, t); };
  } else {
    listener.reset();  // a second connection is refused, not taken for a channel
  }
  ProxyResult res = run_proxy(source, *dest, opt);
  const std::string summary = a.format == "json" ? render_proxy_json(res) : render_proxy_text(res);
  // The summary goes to stdout unless a QEMU is on the standard streams:
  // stdout then carries the stream, or (exec: on the source, whose command
  // pipe QEMU opens both ways) leads back to the source QEMU.
  const bool stdio = to_stdout || listen->kind == Endpoint::Kind::stdio;
  std::fputs(summary.c_str(), stdio ? stderr : stdout);
  set_exit_code(res.ok ? kExitOk : kExitFailure);
}

}  // namespace

void register_proxy(CLI::App& app) {
  auto a = std::make_shared<ProxyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "proxy", "Pass a live QEMU migration through statewire, rewriting the device sections "
               "the destination needs changed (docs/proxy.md)");
  cmd->add_option("--listen", a->listen,
                  "Where the source QEMU migrates to: tcp:HOST:PORT, unix:PATH, or - (standard input)")
      ->required();
  cmd->add_option("--to", a->to,
                  "The destination QEMU's -incoming address: tcp:HOST:PORT, unix:PATH, or - "
                  "(standard output)")
      ->required();
  add_to_schema_option(*cmd, a->compat, false);
  add_rules_option(*cmd, a->compat);
  cmd->add_option("--from-schema", a->from_schema,
                  "The source QEMU's -dump-vmstate JSON, for streams without a description "
                  "trailer")
      ->check(kInputFile);
  cmd->add_option("--rename", a->renames,
                  "OLD=NEW: a section id the destination knows by another name (a PCI device at "
                  "another slot: 0000:00:05.0/pci-serial=0000:00:06.0/pci-serial); may repeat");
  cmd->add_option("--machine-type", a->machine_type,
                  "Rewrite the machine type the configuration section announces");
  cmd->add_option("--format", a->format, "Final summary: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--timeout", a->timeout, "Seconds either side may stay silent (default 60)");
  cmd->add_option("--accept-timeout", a->accept_timeout,
                  "Seconds to wait for the source to connect (default 300)");
  cmd->add_option("--socket-buffer", a->socket_buffer,
                  "Bytes of socket buffer towards each QEMU (default 262144; 0: the kernel's "
                  "autotuned buffers, which add to the source's downtime)")
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_flag("--multifd", a->multifd,
               "The source uses QEMU's multifd capability: pass its further connections "
               "through to the destination (RAM pages only, never rewritten)");
  cmd->add_flag("--quiet", a->quiet, "No progress line");
  cmd->callback([a] { run_proxy_cmd(*a); });
}

}  // namespace statewire::cli
