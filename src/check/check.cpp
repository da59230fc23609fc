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

namespace {

bool is_subsection_rule(std::string_view rule) {
  return rule == "subsection-added" || rule == "subsection-removed" ||
         rule == "subsection-renamed";
}

// Leaves out findings about what the stream does not send. New subsections
// (subsection-added) stay: an old build's stream cannot show whether the new
// build will send them.
void filter_sent(const SentContent& sent, CheckReport& r) {
  auto keep = [&](const Finding& f) {
    if (f.device.empty()) return true;  // about the dumps themselves
    if (!sent.sections.count(f.section)) return false;
    if (sent.undecoded.count(f.section) || f.rule == "subsection-added") return true;
    for (const auto& c : f.conditions)
      if (c.target == GateTarget::subsection && c.breaks_when_sent && !sent.subsections.count(c.name))
        return false;
    if (is_subsection_rule(f.rule) && f.path.size() > 2 && f.path.front() == '[') {
      std::string name = f.path.substr(1, f.path.find(']') - 1);
      if (!sent.subsections.count(name)) return false;
    }
    return true;
  };
  const std::size_t before = r.findings.size();
  std::erase_if(r.findings, [&](const Finding& f) { return !keep(f); });
  r.filtered = before - r.findings.size();
}

// The same finding twice (a dump listing a subsection twice) is said once;
// the same finding on several device types sharing a section (kvm-i8259,
// isa-i8259) is said once, on the first, naming the others.
void merge_duplicates(CheckReport& r) {
  auto same = [](const Finding& a, const Finding& b) {
    return a.section == b.section && a.path == b.path && a.rule == b.rule &&
           a.forward == b.forward && a.backward == b.backward && a.explanation == b.explanation &&
           a.repair == b.repair && a.transform == b.transform;
  };
  std::vector<Finding> out;
  out.reserve(r.findings.size());
  for (Finding& f : r.findings) {
    auto it = std::find_if(out.begin(), out.end(), [&](const Finding& g) { return same(f, g); });
    if (it == out.end()) {
      out.push_back(std::move(f));
      continue;
    }
    ++r.merged;
    if (f.device != it->device &&
        std::find(it->same_in.begin(), it->same_in.end(), f.device) == it->same_in.end())
      it->same_in.push_back(f.device);
  }
  r.findings = std::move(out);
}

}  // namespace

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
  if (options.transforms) attach_known_repairs(old_schema, new_schema, *options.transforms, report);
  if (options.sent) filter_sent(*options.sent, report);
  if (options.machines) evaluate_machines(*options.machines, report);
  merge_duplicates(report);
  for (const Finding& f : report.findings) {
    if (!report.devices.empty() && report.devices.back().device == f.device) {
      report.devices.back().forward = std::max(report.devices.back().forward, f.forward);
      report.devices.back().backward = std::max(report.devices.back().backward, f.backward);
    } else {
      report.devices.push_back(DeviceVerdict{f.device, f.section, f.forward, f.backward});
    }
  }
  return report;
}

}  // namespace statewire
