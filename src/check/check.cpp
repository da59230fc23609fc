// check_compat: the entry point. Compares devices, then derives each
// finding's severity from the verdicts of the directions asked for, then
// replays the findings on the machine types when given.
#include "statewire/check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "check/compare.hpp"

namespace statewire {

std::string_view verdict_name(Verdict v) noexcept {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::risk: return "risk";
    case Verdict::breaks: return "breaks";
  }
  return "?";
}

std::string_view severity_name(Severity s) noexcept {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "?";
}

std::string_view direction_name(CheckDirection d) noexcept {
  switch (d) {
    case CheckDirection::forward: return "forward";
    case CheckDirection::backward: return "backward";
    case CheckDirection::both: return "both";
  }
  return "?";
}

std::size_t CheckReport::count(Severity s) const noexcept {
  return static_cast<std::size_t>(std::count_if(
      findings.begin(), findings.end(), [s](const Finding& f) { return f.severity == s; }));
}

CheckReport check_compat(const SchemaSet& old_schema, const SchemaSet& new_schema,
                         const CheckOptions& options) {
  using namespace check_detail;
  CheckReport report;
  report.old_machine = old_schema.machine;
  report.new_machine = new_schema.machine;
  report.direction = options.direction;
  Sink sink;
  if (old_schema.machine && new_schema.machine && *old_schema.machine != *new_schema.machine)
    sink.add(Scope{}, "", "machine-type-differs", Verdict::ok, Verdict::ok,
             fmt::format("The dumps were taken with different machine types (\"{}\" and \"{}\"); "
                         "migration is only defined between identical machine types, though "
                         "QEMU's dumps do not depend on them.",
                         *old_schema.machine, *new_schema.machine));
  compare_devices(old_schema, new_schema, sink, report.devices_compared);
  report.findings = std::move(sink.findings);
  for (Finding& f : report.findings) {
    Verdict v = Verdict::ok;
    if (options.direction != CheckDirection::backward) v = std::max(v, f.forward);
    if (options.direction != CheckDirection::forward) v = std::max(v, f.backward);
    f.severity = v == Verdict::breaks ? Severity::error
                 : v == Verdict::risk ? Severity::warning
                                      : Severity::info;
  }
  attach_repairs(old_schema, new_schema, report);
  if (options.machines) evaluate_machines(*options.machines, report);
  return report;
}

}  // namespace statewire
