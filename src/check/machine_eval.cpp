// Which (build, machine type) pairs migrate: each finding is replayed on each
// machine type of a MachineSet. A finding that matters only while some content
// is on the wire (a subsection, a test-gated field, the section itself) is
// settled by that content's property gate: moot where the machine type's
// compat properties switch it off, a definite break where they leave it on.
// Findings without a gate keep their machine-independent verdict.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "check/compare.hpp"

namespace statewire::check_detail {

namespace {

// Risks that come from meaning, not from whether content is sent: a gate
// cannot settle them.
bool semantic_risk(std::string_view rule) {
  return rule == "field-type-changed" || rule == "unused-reused" || rule == "field-reordered";
}

// The value that switches a gate off, for the suggested compat entry.
std::string opposite(const std::string& active_when) {
  if (active_when == "on" || active_when == "true" || active_when == "yes") return "off";
  if (active_when == "off" || active_when == "false" || active_when == "no") return "on";
  return "not " + active_when;
}

std::string where(const Finding& f) {
  if (f.device.empty()) return "(dump)";
  return f.path.empty() ? f.device : fmt::format("{} {}", f.device, f.path);
}

std::string describe(const MachineSet& ms, std::size_t m, const PropertyGate& g) {
  const std::string& driver = g.driver.empty() ? g.device : g.driver;
  auto v = ms.property_value(m, driver, g.property);
  return fmt::format("{}.{}={}{}", driver, g.property, v.value_or(g.default_value),
                     v ? "" : " (default)");
}

}  // namespace

void evaluate_machines(const MachineSet& ms, CheckReport& report) {
  std::array<CheckDirection, 2> dirs = {CheckDirection::forward, CheckDirection::backward};
  for (std::size_t m = 0; m < ms.machines.size(); ++m) {
    if (ms.machines[m].only_new) continue;  // the old build cannot run it
    for (CheckDirection dir : dirs) {
      if (report.direction != CheckDirection::both && report.direction != dir) continue;
      MachinePair pair{ms.machines[m].name, dir, Verdict::ok, {}};
      for (const Finding& f : report.findings) {
        Verdict v = dir == CheckDirection::forward ? f.forward : f.backward;
        if (v == Verdict::ok) continue;
        bool moot = false, all_known = true;
        std::vector<std::string> why, fix;
        auto consider = [&](GateTarget t, const std::string& name, bool breaks_when_sent,
                            bool required) {
          const PropertyGate* g = ms.find_gate(f.device, t, name);
          if (!g) {
            if (required) all_known = false;
            return;
          }
          bool active = ms.gate_active(m, *g);
          why.push_back(fmt::format("{} ({} {})", describe(ms, m, *g),
                                    t == GateTarget::section ? "section" : name,
                                    active ? "sent" : "not sent"));
          if (active != breaks_when_sent) moot = true;
          if (active && breaks_when_sent)
            fix.push_back(fmt::format("{{\"driver\": \"{}\", \"property\": \"{}\", \"value\": \"{}\"}}",
                                      g->driver.empty() ? g->device : g->driver, g->property,
                                      opposite(g->active_when)));
        };
        consider(GateTarget::section, "", true, /*required=*/false);
        for (const auto& c : f.conditions) consider(c.target, c.name, c.breaks_when_sent, true);
        if (moot) continue;
        Verdict final_v = v;
        if (v == Verdict::risk && all_known && !f.conditions.empty() && !semantic_risk(f.rule))
          final_v = Verdict::breaks;
        std::string reason = fmt::format("{}: {} [{}]", where(f), verdict_name(final_v), f.rule);
        if (!why.empty()) reason += fmt::format(" because {}", fmt::join(why, ", "));
        else if (final_v == Verdict::risk && !f.conditions.empty())
          reason += " (no gate given for it: add one to decide)";
        if (final_v == Verdict::breaks && !fix.empty())
          reason += fmt::format("; fix: add {} to the compat properties of {}", fmt::join(fix, ", "),
                                ms.machines[m].name);
        pair.reasons.push_back(std::move(reason));
        pair.verdict = std::max(pair.verdict, final_v);
      }
      report.machines.push_back(std::move(pair));
    }
  }
}

}  // namespace statewire::check_detail
