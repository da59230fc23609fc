// Array lengths from a stream, for a dump that records none. QEMU 7.2's
// -dump-vmstate shows `bool eitr_intr_pending[5]` as one element of 1 byte,
// so byte accounting around it cannot be settled from the dump; the old
// build's own stream (its trailer lists every element) can.
#include <memory>

#include "check/compare.hpp"

namespace statewire {

namespace {

std::string join(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
}

using PathCounts = std::map<std::string, std::uint32_t>;

void record(PathCounts& out, const std::string& path, std::size_t n) {
  const auto count = static_cast<std::uint32_t>(std::min<std::size_t>(n, UINT32_MAX));
  auto [it, fresh] = out.emplace(path, count);
  if (!fresh && it->second != count) it->second = 0;  // instances disagree: a run-time length
}

void collect(const Struct& s, const std::string& prefix, PathCounts& out) {
  for (const auto& m : s.members) {
    const std::string path = join(prefix, m.name);
    if (const Array* a = m.value.get_if<Array>())
      record(out, path, a->items.size());
    else if (const Struct* st = m.value.get_if<Struct>())
      collect(*st, path, out);
  }
  for (const auto& sub : s.subsections) collect(sub.body, join(prefix, "[" + sub.name + "]"), out);
}

// True when something under `d` changed.
bool apply(Description& d, const std::string& prefix, const PathCounts& counts, std::size_t& applied) {
  bool changed = false;
  if (d.fields) {
    for (Field& f : *d.fields) {
      const std::string path = join(prefix, f.name);
      if (f.count.mode == Count::Mode::single && !check_detail::is_unused(f)) {
        auto it = counts.find(path);
        if (it != counts.end() && it->second > 1) {
          f.count = Count::fixed(it->second);
          ++applied;
          changed = true;
        }
      }
      if (f.nested) {
        auto below = counts.lower_bound(path + ".");
        if (below != counts.end() && below->first.rfind(path + ".", 0) == 0) {
          Description copy = *f.nested;
          if (apply(copy, path, counts, applied)) {
            f.nested = std::make_shared<const Description>(std::move(copy));
            changed = true;
          }
        }
      }
    }
  }
  if (d.subsections)
    for (Subsection& sub : *d.subsections)
      changed = apply(sub.description, join(prefix, "[" + sub.description.name + "]"), counts,
                      applied) || changed;
  return changed;
}

}  // namespace

void collect_counts(const Struct& body, const std::string& vmsd_name, SentContent& out) {
  collect(body, "", out.counts[vmsd_name]);
}

namespace check_detail {

SchemaSet apply_stream_counts(const SchemaSet& old, const SentContent& sent, std::size_t& applied) {
  SchemaSet out = old;
  for (DeviceSchema& d : out.devices) {
    auto it = sent.counts.find(d.description.name);
    if (it != sent.counts.end()) apply(d.description, "", it->second, applied);
  }
  return out;
}

}  // namespace check_detail

}  // namespace statewire
