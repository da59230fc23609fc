// The readable report of `statewire check`: a device x direction verdict
// table, then findings grouped by device, most severe first within a device, each with its path, rule, per-direction
// verdicts, the explanation and the suggested repair; then the machine pairs.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "statewire/check.hpp"

namespace statewire {

namespace {

void render_finding(std::string& out, const Finding& f) {
  fmt::format_to(std::back_inserter(out), "  {:<8} {}  [{}]  forward: {}  backward: {}\n",
                 severity_name(f.severity), f.path.empty() ? "(section)" : f.path, f.rule,
                 verdict_name(f.forward), verdict_name(f.backward));
  fmt::format_to(std::back_inserter(out), "           {}\n", f.explanation);
  if (!f.repair.empty()) fmt::format_to(std::back_inserter(out), "           repair: {}\n", f.repair);
  if (!f.transform.empty())
    fmt::format_to(std::back_inserter(out), "           transform: {}\n", f.transform);
  for (const auto& k : f.known_repairs)
    fmt::format_to(std::back_inserter(out), "           statewire {}: {} transform \"{}\": {}{}\n",
                   direction_name(k.direction), k.origin, k.transform, k.op,
                   k.refuses.empty() ? "" : "; refuses the state when sent: " + k.refuses);
  if (!f.same_in.empty())
    fmt::format_to(std::back_inserter(out), "           same in: {}\n", fmt::join(f.same_in, ", "));
}

}  // namespace

std::string render_check_text(const CheckReport& r, const RenderOptions& opt) {
  std::string out;
  fmt::format_to(std::back_inserter(out),
                 "statewire check: {} error(s), {} warning(s), {} info ({} devices compared, "
                 "old machine {}, new machine {}, direction {})\n",
                 r.count(Severity::error), r.count(Severity::warning), r.count(Severity::info),
                 r.devices_compared, r.old_machine.value_or("-"), r.new_machine.value_or("-"),
                 direction_name(r.direction));
  if (r.merged || r.filtered)
    fmt::format_to(std::back_inserter(out), "({} duplicate finding(s) merged{})\n", r.merged,
                   r.filtered ? fmt::format(", {} about content the stream does not send left out",
                                            r.filtered)
                              : std::string());
  // The verdicts at a glance, before the details.
  std::vector<const DeviceVerdict*> rows;
  for (const auto& d : r.devices)
    if (opt.show_info || d.forward != Verdict::ok || d.backward != Verdict::ok) rows.push_back(&d);
  if (!rows.empty()) {
    std::size_t w = 16;  // "device (section)"
    for (const auto* d : rows) w = std::max(w, d->device.size() + d->section.size() + 3);
    fmt::format_to(std::back_inserter(out), "\n  {:<{}}  {:<8} {:<8}\n", "device (section)", w,
                   "forward", "backward");
    for (const auto* d : rows)
      fmt::format_to(std::back_inserter(out), "  {:<{}}  {:<8} {:<8}\n",
                     d->device.empty() ? std::string("(dumps)")
                                       : fmt::format("{} ({})", d->device, d->section),
                     w, r.direction == CheckDirection::backward ? "-" : verdict_name(d->forward),
                     r.direction == CheckDirection::forward ? "-" : verdict_name(d->backward));
  }
  // Findings arrive grouped by device; keep that order, most severe first inside.
  std::size_t i = 0;
  while (i < r.findings.size()) {
    std::size_t j = i;
    while (j < r.findings.size() && r.findings[j].device == r.findings[i].device) ++j;
    std::vector<std::size_t> idx(j - i);
    std::iota(idx.begin(), idx.end(), i);
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
      return r.findings[a].severity > r.findings[b].severity;
    });
    bool header = false;
    for (std::size_t k : idx) {
      const Finding& f = r.findings[k];
      if (f.severity == Severity::info && !opt.show_info) continue;
      if (!header) {
        if (f.device.empty())
          out += "\n(dumps)\n";
        else
          fmt::format_to(std::back_inserter(out), "\n{} (section \"{}\")\n", f.device, f.section);
        header = true;
      }
      render_finding(out, f);
    }
    i = j;
  }
  if (!r.machines.empty()) {
    out += "\nmachine types (source build, machine) -> (destination build, same machine):\n";
    for (const auto& p : r.machines) {
      fmt::format_to(std::back_inserter(out), "  {:<24} {:<8} {}: {}\n", p.machine,
                     direction_name(p.direction),
                     p.direction == CheckDirection::forward ? "old -> new" : "new -> old",
                     verdict_name(p.verdict));
      for (const auto& why : p.reasons) fmt::format_to(std::back_inserter(out), "      {}\n", why);
    }
  }
  return out;
}

}  // namespace statewire
