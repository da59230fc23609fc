// `statewire caps`: list this build's capabilities, or intersect two peers'
// lists (what a management tool does with source and destination) and show
// the session settings the result implies.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "statewire/capabilities.hpp"

namespace statewire::cli {

namespace {

struct CapsArgs {
  std::vector<std::string> intersect;
  std::string format = "text";
};

// A peer's answer: a JSON file ({"capabilities": [...]}), "-" for this build,
// or a comma-separated list ("none" or "" for a peer that answered nothing).
Result<CapabilitySet> peer(const std::string& arg) {
  if (arg == "-") return supported_capabilities();
  if (arg.size() > 5 && arg.ends_with(".json")) {
    SW_TRY(text, read_text_file(arg));
    return capabilities_from_json(text);
  }
  return parse_capability_list(arg);
}

void print(const CapabilitySet& a, const CapabilitySet& b, const CapabilitySet& agreed,
           const SessionSettings& s, const std::string& format) {
  if (format == "json") {
    nlohmann::ordered_json j;
    j["source"] = a.names();
    j["destination"] = b.names();
    j["agreed"] = agreed.names();
    j["session"] = {{"codec", s.codec},
                    {"checksums", s.checksums},
                    {"compression", compression_name(s.compression)},
                    {"return_path", s.return_path},
                    {"channels", s.channels}};
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("source:      {}\n", a.empty() ? "(none)" : fmt::format("{}", fmt::join(a.names(), ", ")));
  fmt::print("destination: {}\n", b.empty() ? "(none)" : fmt::format("{}", fmt::join(b.names(), ", ")));
  fmt::print("agreed:      {}\n", agreed.empty() ? "(none: legacy QEMU codec)"
                                                  : fmt::format("{}", fmt::join(agreed.names(), ", ")));
  fmt::print("session:\n  codec: {}\n  checksums: {}\n  compression: {}\n  return path: {}\n  channels: {}\n",
             s.codec, s.checksums ? "on" : "off", compression_name(s.compression),
             s.return_path ? "on" : "off", s.channels);
}

}  // namespace

void register_caps(CLI::App& app) {
  auto args = std::make_shared<CapsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "caps", "List this build's capabilities, or intersect two peers' and show the session settings");
  cmd->add_option("--intersect", args->intersect,
                  "SOURCE DESTINATION: each a comma list, a JSON file, '-' (this build) or 'none'")
      ->expected(2);
  cmd->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([args] {
    if (args->intersect.empty()) {
      if (args->format == "json") {
        fmt::print("{}", to_json(supported_capabilities()));
        return;
      }
      for (const auto& c : known_capabilities())
        fmt::print("{:<18} {:<13} {}\n", c.name, c.supported ? "supported" : "not yet", c.meaning);
      return;
    }
    auto a = peer(args->intersect[0]);
    if (!a) return report(a.error());
    auto b = peer(args->intersect[1]);
    if (!b) return report(b.error());
    CapabilitySet agreed = intersect(*a, *b);
    print(*a, *b, agreed, apply(agreed), args->format);
  });
}

}  // namespace statewire::cli
