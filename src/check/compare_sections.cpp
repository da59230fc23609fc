// Devices (top-level sections) and version numbers, old against new.
//
// Devices are matched by their dump key (QOM type) like QEMU's checker, but
// the wire knows only the vmsd name: a QOM rename with the same vmsd name is
// no break, a vmsd rename is, and a section is removed only when no device
// type of the new build registers its name. A section or subsection's version_id is on the
// wire and must lie in the destination's [minimum_version_id, version_id]; a
// nested struct's version is not on the wire at all.
#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "check/compare.hpp"

namespace statewire::check_detail {

void compare_versions(const Description& o, const Description& n, const Scope& s, Sink& sink,
                      bool nested) {
  const std::string what = s.path.empty() ? fmt::format("Section \"{}\"", n.name)
                                          : fmt::format("Subsection \"{}\"", n.name);
  if (nested) {
    if (o.version_id != n.version_id || o.minimum_version_id != n.minimum_version_id)
      sink.add(s, s.path, "nested-version-changed", Verdict::ok, Verdict::ok,
               fmt::format("Nested description \"{}\" changed version {}/{} -> {}/{} "
                           "(version/minimum); nested versions are not on the wire, so this "
                           "alone changes nothing, and cannot gate new fields.",
                           n.name, o.version_id, o.minimum_version_id, n.version_id,
                           n.minimum_version_id));
    return;
  }
  if (n.version_id > o.version_id) {
    sink.add(s, s.path, "version-raised", Verdict::ok, Verdict::breaks,
             fmt::format("{} version_id went {} -> {}: a new source always writes {}, which every "
                         "old destination rejects as too new, whatever the machine type.",
                         what, o.version_id, n.version_id, n.version_id),
             "If the new state is optional, keep version_id and send it in a subsection tied to a "
             "compat property; otherwise backward migration is given up knowingly.",
             fmt::format("backward: rewrite \"{}\" version {} as {} (drop fields newer than {})",
                         n.name, n.version_id, o.version_id, o.version_id));
  } else if (n.version_id < o.version_id) {
    sink.add(s, s.path, "version-lowered", Verdict::breaks,
             n.version_id >= o.minimum_version_id ? Verdict::ok : Verdict::breaks,
             fmt::format("{} version_id went {} -> {}: the new destination rejects an old "
                         "source's version {} as too new.",
                         what, o.version_id, n.version_id, o.version_id),
             fmt::format("Never lower version_id; keep it at {} or above.", o.version_id));
  }
  if (n.minimum_version_id > o.minimum_version_id) {
    bool cut = n.minimum_version_id > o.version_id;
    sink.add(s, s.path, "minimum-version-raised", cut ? Verdict::breaks : Verdict::ok, Verdict::ok,
             cut ? fmt::format("{} minimum_version_id went {} -> {}, above the old build's "
                               "version_id {}: the new destination rejects every old stream as "
                               "too old.",
                               what, o.minimum_version_id, n.minimum_version_id, o.version_id)
                 : fmt::format("{} minimum_version_id went {} -> {}; streams from the old build "
                               "(version {}) still load, only older ones are refused.",
                               what, o.minimum_version_id, n.minimum_version_id, o.version_id),
             cut ? fmt::format("Keep minimum_version_id at most {} so the old build's streams "
                               "load.",
                               o.version_id)
                 : std::string());
  } else if (n.minimum_version_id < o.minimum_version_id) {
    sink.add(s, s.path, "minimum-version-lowered", Verdict::ok, Verdict::ok,
             fmt::format("{} minimum_version_id went {} -> {}: the new build accepts more old "
                         "streams.",
                         what, o.minimum_version_id, n.minimum_version_id));
  }
}

namespace {

bool description_counts(const Description& d) {
  for (const auto& f : d.field_list()) {
    if (f.num || f.count.mode != Count::Mode::single ||
        (f.kind != FieldKind::opaque && f.kind != FieldKind::structure))
      return true;
    if (f.nested && description_counts(*f.nested)) return true;
  }
  for (const auto& sub : d.subsection_list())
    if (description_counts(sub.description)) return true;
  return false;
}

struct Counts {
  bool old_counts = true, new_counts = true;
};

void compare_device(const DeviceSchema& od, const DeviceSchema& nd, Sink& sink,
                    const Counts& counts) {
  if (od.description == nd.description) return;
  const Description& o = od.description;
  const Description& n = nd.description;
  Scope s;
  s.old_counts = counts.old_counts;
  s.new_counts = counts.new_counts;
  s.device = od.key;
  s.section = n.name;
  s.fwd = {o.version_id, o.version_id};
  s.bwd = {n.version_id, n.version_id};
  if (o.name != n.name) {
    s.section = o.name;
    sink.add(s, "", "section-renamed", Verdict::breaks, Verdict::breaks,
             fmt::format("The section id (vmsd name) changed \"{}\" -> \"{}\": it is on the wire, "
                         "so each build fails on the other's stream with an unknown section.",
                         o.name, n.name),
             fmt::format("Keep the vmsd name \"{}\" (C identifiers may change freely).", o.name),
             fmt::format("forward: rename section \"{}\" to \"{}\"", o.name, n.name));
    s.section = n.name;
  }
  compare_versions(o, n, s, sink, /*nested=*/false);
  compare_body(o, n, s, sink);
}

}  // namespace

bool records_counts(const SchemaSet& s) noexcept {
  for (const auto& d : s.devices)
    if (description_counts(d.description)) return true;
  return false;
}

void compare_devices(const SchemaSet& os, const SchemaSet& ns, Sink& sink, std::size_t& compared,
                     bool old_counts, bool new_counts) {
  const Counts counts{old_counts, new_counts};
  std::unordered_map<std::string_view, std::size_t> new_index;
  new_index.reserve(ns.devices.size());
  for (std::size_t j = 0; j < ns.devices.size(); ++j) new_index.emplace(ns.devices[j].key, j);
  std::vector<bool> new_taken(ns.devices.size(), false);
  std::vector<const DeviceSchema*> old_only;

  // Removed devices are judged after renames are known, but reported in place.
  std::vector<std::pair<const DeviceSchema*, const DeviceSchema*>> order;
  for (const auto& od : os.devices) {
    auto it = new_index.find(od.key);
    if (it != new_index.end() && !new_taken[it->second]) {
      new_taken[it->second] = true;
      order.emplace_back(&od, &ns.devices[it->second]);
    } else {
      order.emplace_back(&od, nullptr);
      old_only.push_back(&od);
    }
  }
  // A device key that changed while its vmsd name stayed (and is unique among
  // the unmatched on both sides) is a QOM rename: the wire is unchanged.
  std::unordered_map<std::string_view, int> old_by_vmsd, new_by_vmsd;  // count, or index
  for (const DeviceSchema* od : old_only) ++old_by_vmsd[od->description.name];
  for (std::size_t j = 0; j < ns.devices.size(); ++j) {
    if (new_taken[j]) continue;
    auto [it, fresh] = new_by_vmsd.emplace(ns.devices[j].description.name, static_cast<int>(j));
    if (!fresh) it->second = -1;  // ambiguous
  }
  std::unordered_map<const DeviceSchema*, const DeviceSchema*> renamed;
  for (const DeviceSchema* od : old_only) {
    auto it = new_by_vmsd.find(od->description.name);
    if (old_by_vmsd[od->description.name] != 1 || it == new_by_vmsd.end() || it->second < 0)
      continue;
    auto j = static_cast<std::size_t>(it->second);
    new_taken[j] = true;
    renamed[od] = &ns.devices[j];
  }

  // The loader matches a section by its name on the wire (the vmsd name), not
  // by QOM type: a device type the new build lacks whose section another type
  // still registers (serial-mm and isa-serial both send "serial") is no
  // removed section. Compare against the type with the same description if
  // there is one, else the first.
  std::unordered_map<std::string_view, std::vector<std::size_t>> any_by_vmsd;
  for (std::size_t j = 0; j < ns.devices.size(); ++j)
    any_by_vmsd[ns.devices[j].description.name].push_back(j);
  std::unordered_map<const DeviceSchema*, const DeviceSchema*> shared;
  for (const DeviceSchema* od : old_only) {
    if (renamed.count(od)) continue;
    auto it = any_by_vmsd.find(od->description.name);
    if (it == any_by_vmsd.end()) continue;
    const DeviceSchema* pick = &ns.devices[it->second.front()];
    for (std::size_t j : it->second)
      if (ns.devices[j].description == od->description) {
        pick = &ns.devices[j];
        break;
      }
    shared[od] = pick;
    for (std::size_t j : it->second) new_taken[j] = true;
  }

  for (auto [od, nd] : order) {
    if (nd) {
      ++compared;
      compare_device(*od, *nd, sink, counts);
      continue;
    }
    Scope s;
    s.device = od->key;
    s.section = od->description.name;
    if (auto r = renamed.find(od); r != renamed.end()) {
      ++compared;
      sink.add(s, "", "device-renamed", Verdict::ok, Verdict::ok,
               fmt::format("Device type \"{}\" is now \"{}\" with the same section id \"{}\"; the "
                           "stream is unchanged, but the destination must be started with the "
                           "new type name.",
                           od->key, r->second->key, od->description.name));
      compare_device(*od, *r->second, sink, counts);
      continue;
    }
    if (auto r = shared.find(od); r != shared.end()) {
      ++compared;
      sink.add(s, "", "device-renamed", Verdict::ok, Verdict::ok,
               fmt::format("Device type \"{}\" is not in the new build, but its section \"{}\" "
                           "is (registered by \"{}\"): the loader matches sections by that name, "
                           "so the stream loads where the destination creates the device as "
                           "\"{}\".",
                           od->key, od->description.name, r->second->key, r->second->key));
      compare_device(*od, *r->second, sink, counts);
      continue;
    }
    sink.add(s, "", "section-removed", Verdict::breaks, Verdict::ok,
             fmt::format("Device type \"{}\" (section \"{}\") is gone from the new build: a VM "
                         "using it cannot migrate there (unknown section); migrating back is "
                         "unaffected.",
                         od->key, od->description.name),
             fmt::format("Keep a vmsd named \"{}\" that loads the old stream.",
                         od->description.name),
             fmt::format("forward: drop section \"{}\"", od->description.name));
  }
  for (std::size_t j = 0; j < ns.devices.size(); ++j) {
    if (new_taken[j]) continue;
    Scope s;
    s.device = ns.devices[j].key;
    s.section = ns.devices[j].description.name;
    sink.add(s, "", "section-added", Verdict::ok, Verdict::ok,
             fmt::format("New device type \"{}\" (section \"{}\"): the old build cannot run a VM "
                         "that uses it, so no stream between the builds carries it.",
                         ns.devices[j].key, ns.devices[j].description.name));
  }
}

}  // namespace statewire::check_detail
