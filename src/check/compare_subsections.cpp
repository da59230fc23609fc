// Subsections, old against new. On the wire a subsection is its name, its
// version and its body, sent only when its needed() holds; a destination
// fails on a subsection name it does not know and silently accepts a known
// one that did not arrive (spec/compatibility-rules.md §1.5). So an added
// subsection is safe forward and safe backward only when needed() can be
// false; a removed one is the mirror image. Matching is by exact name.
#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "check/compare.hpp"

namespace statewire::check_detail {

namespace {

constexpr std::size_t kMaxRenamePairs = 4096;

std::string sub_path(const Scope& s, const std::string& name) {
  return s.join("[" + name + "]");
}

bool same_body(const Description& a, const Description& b) {
  return a.version_id == b.version_id && a.minimum_version_id == b.minimum_version_id &&
         a.field_list() == b.field_list() && a.subsection_list() == b.subsection_list();
}

// A loader reads subsections only while their names start with its own
// vmsd name; a renamed parent can end that for subsections kept unchanged.
void prefix_check(const std::string& sub, const Description& od, const Description& nd,
                  const Scope& s, Sink& sink) {
  bool fwd_ok = sub.starts_with(nd.name), bwd_ok = sub.starts_with(od.name);
  if (fwd_ok && bwd_ok) return;
  auto& f = sink.add(
      s, sub_path(s, sub), "subsection-prefix-mismatch", fwd_ok ? Verdict::ok : Verdict::risk,
      bwd_ok ? Verdict::ok : Verdict::risk,
      fmt::format("The parent description was renamed \"{}\" -> \"{}\" but subsection \"{}\" "
                  "was not: a destination stops reading subsections whose name does not start "
                  "with its own vmsd name, so whenever it is sent the load fails.",
                  od.name, nd.name, sub),
      "Rename parent and subsections together (or keep the parent's name).");
  f.conditions.push_back({GateTarget::subsection, sub, true});
}

}  // namespace

void compare_subsections(const Description& od, const Description& nd, const Scope& s,
                         Sink& sink) {
  const auto& os = od.subsection_list();
  const auto& ns = nd.subsection_list();
  if (os.empty() && ns.empty()) return;
  std::vector<int> match_of_old(os.size(), -1);
  std::vector<bool> new_taken(ns.size(), false);
  {
    std::unordered_map<std::string_view, std::vector<std::size_t>> by_name;
    for (std::size_t j = ns.size(); j-- > 0;) by_name[ns[j].description.name].push_back(j);
    for (std::size_t i = 0; i < os.size(); ++i) {
      auto it = by_name.find(os[i].description.name);
      if (it == by_name.end() || it->second.empty()) continue;
      match_of_old[i] = static_cast<int>(it->second.back());
      new_taken[it->second.back()] = true;
      it->second.pop_back();
    }
  }
  // A removed and an added subsection with the same body: a rename. Bodies
  // are compared pairwise, so only for the few a real change produces.
  std::vector<int> rename_of_old(os.size(), -1);
  std::size_t removed = static_cast<std::size_t>(std::count(match_of_old.begin(), match_of_old.end(), -1));
  std::size_t added = static_cast<std::size_t>(std::count(new_taken.begin(), new_taken.end(), false));
  for (std::size_t i = 0; i < os.size() && removed * added <= kMaxRenamePairs; ++i) {
    if (match_of_old[i] >= 0) continue;
    int found = -1, hits = 0;
    for (std::size_t j = 0; j < ns.size(); ++j)
      if (!new_taken[j] && same_body(os[i].description, ns[j].description)) {
        found = static_cast<int>(j);
        ++hits;
      }
    if (hits == 1) {
      rename_of_old[i] = found;
      new_taken[static_cast<std::size_t>(found)] = true;
    }
  }

  for (std::size_t i = 0; i < os.size(); ++i) {
    const Description& o = os[i].description;
    if (match_of_old[i] >= 0) {
      const Description& n = ns[static_cast<std::size_t>(match_of_old[i])].description;
      if (od.name != nd.name) prefix_check(o.name, od, nd, s, sink);
      if (o == n) continue;
      Scope inner = s;
      inner.path = sub_path(s, o.name);
      inner.nested = false;
      inner.fwd = {o.version_id, o.version_id};
      inner.bwd = {n.version_id, n.version_id};
      inner.conditions.push_back({GateTarget::subsection, o.name, true});
      compare_versions(o, n, inner, sink, /*nested=*/false);
      compare_body(o, n, inner, sink);
      continue;
    }
    if (rename_of_old[i] >= 0) {
      const Description& n = ns[static_cast<std::size_t>(rename_of_old[i])].description;
      auto& f = sink.add(
          s, sub_path(s, o.name), "subsection-renamed", Verdict::risk, Verdict::risk,
          fmt::format("Subsection \"{}\" is now called \"{}\": its name is on the wire, so "
                      "whenever it is sent the other build fails with an unknown subsection.",
                      o.name, n.name),
          fmt::format("Keep the name \"{}\".", o.name),
          fmt::format("forward: rename subsection \"{}\" to \"{}\"", o.name, n.name));
      f.conditions.push_back({GateTarget::subsection, n.name, true});
      continue;
    }
    auto& f = sink.add(
        s, sub_path(s, o.name), "subsection-removed", Verdict::risk, Verdict::ok,
        fmt::format("Subsection \"{}\" is gone: whenever an old source's needed() sends it, the "
                    "new destination fails with an unknown subsection; a new source simply does "
                    "not send it.",
                    o.name),
        fmt::format("Keep \"{}\" in the new build's subsection list (load-only, needed() false) "
                    "so old streams still load.",
                    o.name),
        fmt::format("forward: drop subsection \"{}\"", o.name));
    f.conditions.push_back({GateTarget::subsection, o.name, true});
  }
  for (std::size_t j = 0; j < ns.size(); ++j) {
    if (new_taken[j]) continue;
    const Subsection& n = ns[j];
    auto& f = sink.add(
        s, sub_path(s, n.description.name), "subsection-added", Verdict::ok, Verdict::risk,
        fmt::format("New subsection \"{}\"{}: an old source never sends it, but whenever a new "
                    "source's needed() is true an old destination fails with an unknown "
                    "subsection; it is backward-compatible only if needed() is false for old "
                    "machine types.",
                    n.description.name,
                    n.needed.empty() ? "" : fmt::format(" (needed: {})", n.needed)),
        fmt::format("Tie needed() of \"{}\" to a device property (default on) that the compat "
                    "properties of the old machine types turn off.",
                    n.description.name));
    f.conditions.push_back({GateTarget::subsection, n.description.name, true});
  }
}

void compare_body(const Description& o, const Description& n, const Scope& s, Sink& sink) {
  compare_fields(o, n, s, sink);
  compare_subsections(o, n, s, sink);
}

}  // namespace statewire::check_detail
