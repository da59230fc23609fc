// Field lists, old against new, judged by the bytes a loader reads.
//
// QEMU's stream has no field names, so names only help to align the lists:
// fields equal on both sides are skipped, the rest are aligned by a longest
// common subsequence of names. What lies between two aligned fields (a "gap")
// is judged by wire layout: equal counts and sizes are renames; equal
// flattened layouts are fields moved into or out of a nested struct; gaps with
// `unused` are settled by byte accounting; anything else is fields removed
// and added. A name found in two different gaps is a reordered field.
#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "check/compare_fields.hpp"

namespace statewire::check_detail {

namespace {

std::string bytes_text(const Field& f) {
  auto b = field_bytes(f);
  if (b) return fmt::format("{} byte{}", *b, *b == 1 ? "" : "s");
  if (f.nested) return fmt::format("struct {}", f.nested->name);
  return "a run-time length";
}

Presence combine_outer(Presence outer, Presence here) {
  if (outer == Presence::no || here == Presence::no) return Presence::no;
  if (outer == Presence::test || here == Presence::test) return Presence::test;
  return Presence::yes;
}

// Wire layout of a field as tokens, nested structs inlined: two layouts with
// the same tokens put the same bytes in the same order under the same gate.
// Inside a struct the outer field's gate decides (nested versions are not on
// the wire), unless a nested field has its own test.
std::string gate_token(const Field& f) {
  return f.has_test() ? "t" : fmt::format("v{}", f.version_id);
}

void flatten(const Field& f, std::vector<std::string>& out, const std::string& gate) {
  bool single = f.count.mode == Count::Mode::single && !f.list && !f.nullable && !f.gtree;
  if (f.nested && single) {
    for (const auto& g : f.nested->field_list()) flatten(g, out, g.has_test() ? "t" : gate);
    for (const auto& sub : f.nested->subsection_list())
      out.push_back("sub:" + sub.description.name);
    return;
  }
  if (f.nested) {
    out.push_back(fmt::format("structs:{}:{}", f.nested->name, gate));
    return;
  }
  auto b = field_bytes(f);
  out.push_back(b ? fmt::format("{}:{}", *b, gate) : fmt::format("?{}:{}", f.size, gate));
}

}  // namespace

void flatten(const Field& f, std::vector<std::string>& out) { flatten(f, out, gate_token(f)); }

std::vector<std::string> flatten_all(std::span<const Field> fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) flatten(f, out);
  return out;
}

void FieldPass::removed(const Field& o) {
  std::string path = s.join(o.name);
  Verdict fwd = lone_verdict(fwd_sent(o));
  Verdict bwd = lone_verdict(bwd_read(o));
  std::string why =
      o.has_test()
          ? fmt::format("Field {} ({}, test-gated) is gone: whenever its test holds an old source "
                        "sends bytes the new destination reads into the following fields, and "
                        "an old destination expects bytes a new source no longer sends.",
                        path, bytes_text(o))
          : fmt::format("Field {} ({}) is gone: an old source still sends its bytes, which the "
                        "new destination reads into the following fields, and an old "
                        "destination expects bytes a new source no longer sends.",
                        path, bytes_text(o));
  std::string repair =
      field_bytes(o)
          ? fmt::format("Keep the bytes on the wire: replace it with VMSTATE_UNUSED({}) "
                        "(zeros on save, skipped on load), or guard it with a _TEST tied to a "
                        "compat property.", *field_bytes(o))
          : std::string("Keep the field (or an equivalent placeholder of the same encoding), or "
                        "guard it with a _TEST tied to a compat property.");
  auto& f = sink.add(s, path, "field-removed", fwd, bwd, std::move(why), std::move(repair),
                     fmt::format("forward: in \"{}\" drop \"{}\" ({})", s.section, path,
                                 bytes_text(o)));
  if (o.has_test()) f.conditions.push_back({GateTarget::field, path, true});
}

void FieldPass::added(const Field& n) {
  std::string path = s.join(n.name);
  Presence fr = fwd_read(n), bs = bwd_sent(n);
  Verdict fwd = lone_verdict(fr);
  Verdict bwd = lone_verdict(bs);
  std::string why;
  std::string repair;
  if (n.has_test()) {
    why = fmt::format("New field {} ({}) is guarded by a test: it is read and sent only when the "
                      "test holds, so migration between the builds works only if the test is "
                      "false whenever the other build is involved (old machine types).",
                      path, bytes_text(n));
    repair = "Make the test return false for old machine types by tying it to a property "
             "that their compat properties turn off.";
  } else if (s.nested && fr == Presence::yes) {
    why = n.version_id > 0
              ? fmt::format("New field {} ({}, version_id {}) is inside a nested struct, whose "
                            "version is never on the wire: the new destination reads it with "
                            "its own nested version and expects bytes an old source never "
                            "sends.",
                            path, bytes_text(n), n.version_id)
              : fmt::format("New field {} ({}) is inside a nested struct and not gated: the new "
                            "destination expects bytes an old source never sends.",
                            path, bytes_text(n));
    repair = fmt::format("Move {} into a subsection of \"{}\" whose needed() is false for old "
                         "machine types; a nested version cannot gate a field.",
                         n.name, s.section);
  } else if (fr == Presence::yes) {
    why = fmt::format("New field {} ({}) is not gated (version_id {} <= incoming version {}, no "
                      "test): the new destination reads bytes an old source never sends.",
                      path, bytes_text(n), n.version_id, s.fwd.dst);
    repair = fmt::format("Put {} in a new subsection \"{}/{}\" whose needed() is false for old "
                         "machine types (a property their compat properties turn off); "
                         "VMSTATE_*_V({}, {}) with a version_id bump keeps only forward "
                         "migration.",
                         n.name, s.section, n.name, n.name, s.fwd.dst + 1);
  } else {
    why = fmt::format("New field {} ({}) has version_id {} above the old version {}: the new "
                      "destination skips it for an old source, but the new source always "
                      "sends it, so an old destination cannot load the new stream.",
                      path, bytes_text(n), n.version_id, s.fwd.dst);
    repair = fmt::format("For backward migration send {} in a subsection tied to a compat "
                         "property instead of a version bump.",
                         n.name);
  }
  auto& f = sink.add(s, path, "field-added", fwd, bwd, std::move(why), std::move(repair),
                     fr == Presence::no
                         ? std::string()
                         : fmt::format("forward: in \"{}\" insert \"{}\" ({}) with its default",
                                       s.section, path, bytes_text(n)));
  if (n.has_test()) f.conditions.push_back({GateTarget::field, path, true});
}

void FieldPass::reordered(const Field& o, const Field& n, std::size_t from, std::size_t to) {
  std::string path = s.join(o.name);
  sink.add(s, path, "field-reordered",
           std::max(content_verdict(both(fwd_sent(o), fwd_read(n))), Verdict::risk),
           std::max(content_verdict(both(bwd_sent(n), bwd_read(o))), Verdict::risk),
           fmt::format("Field {} moved from position {} to {}: declaration order is wire order, "
                       "so its bytes and its neighbours' land in the wrong fields.",
                       path, from, to),
           "Restore the old declaration order.",
           fmt::format("forward: in \"{}\" move \"{}\" from position {} to {}", s.section, path,
                       from, to));
}

void FieldPass::gating(const Field& o, const Field& n, const std::string& path) {
  Presence fs = fwd_sent(o), fr = fwd_read(n), bs = bwd_sent(n), br = bwd_read(o);
  if (o.has_test() != n.has_test()) {
    bool added_test = n.has_test();
    auto& f = sink.add(
        s, path, added_test ? "field-test-added" : "field-test-removed",
        pair_gate_verdict(fs, fr), pair_gate_verdict(bs, br),
        added_test
            ? fmt::format("Field {} is now guarded by a test: the build without the test always "
                          "moves its bytes, so the stream breaks whenever the test is false.",
                          path)
            : fmt::format("Field {} lost its test: the old build moves its bytes only when the "
                          "test holds, the new one always, so the stream breaks whenever the "
                          "old test is false.",
                          path),
        "Keep the test identical on both builds, or make it true for every machine type the "
        "other build runs.");
    f.conditions.push_back({GateTarget::field, path, false});
    return;
  }
  if (o.has_test() || o.version_id == n.version_id) return;
  Verdict vf = pair_gate_verdict(fs, fr), vb = pair_gate_verdict(bs, br);
  std::string why;
  if (vf == Verdict::ok && vb == Verdict::ok)
    why = fmt::format("Field {} changed version_id {} -> {}; both builds still agree on whether "
                      "it is on the wire.",
                      path, o.version_id, n.version_id);
  else
    why = fmt::format("Field {} changed version_id {} -> {}: {}.", path, o.version_id,
                      n.version_id,
                      vf != Verdict::ok
                          ? "an old source sends it but the new destination skips it (or the "
                            "reverse), shifting every later byte"
                          : "a new source and an old destination disagree on whether it is sent");
  sink.add(s, path, "field-version-changed", vf, vb, std::move(why),
           vf == Verdict::ok && vb == Verdict::ok
               ? std::string()
               : fmt::format("Keep version_id {} for {}: a field's version only decides whether "
                             "it is on the wire.",
                             o.version_id, o.name));
}

void FieldPass::pair(const Field& o, const Field& n) {
  std::string path = s.join(o.name);
  if (o.name != n.name)
    sink.add(s, path, "field-renamed", Verdict::ok, Verdict::ok,
             fmt::format("Field {} is now called \"{}\" at the same position and wire size; "
                         "names are not on the wire, so streams load unchanged.",
                         path, n.name))
        .new_name = n.name;
  gating(o, n, path);
  Presence fwd_both = both(fwd_sent(o), fwd_read(n));
  Presence bwd_both = both(bwd_sent(n), bwd_read(o));
  if (o.nested && n.nested) return nested_pair(o, n, path, fwd_both, bwd_both);
  if (o.nested || n.nested) {
    std::vector<std::string> a, b;
    flatten(o, a);
    flatten(n, b);
    if (a == b) {
      sink.add(s, path, "fields-wrapped", Verdict::ok, Verdict::ok,
               fmt::format("Field {} changed between a struct and plain fields with the same "
                           "wire layout; the bytes on the wire are unchanged.",
                           path));
    } else {
      sink.add(s, path, "field-kind-changed", content_verdict(fwd_both),
               content_verdict(bwd_both),
               fmt::format("Field {} changed between a nested struct and a plain field ({} vs "
                           "{}) and the wire layout differs.",
                           path, bytes_text(o), bytes_text(n)),
               "Keep the old layout and send the new one in a subsection.");
    }
    return;
  }
  if (is_unused(o) && is_unused(n)) {
    if (o.size != n.size)
      sink.add(s, path, "unused-size-mismatch", content_verdict(fwd_both),
               content_verdict(bwd_both),
               fmt::format("Unused block {} changed from {} to {} bytes, shifting every later "
                           "byte.",
                           path, o.size, n.size),
               fmt::format("Keep VMSTATE_UNUSED({}).", o.size));
    return;
  }
  std::uint64_t eo = element_bytes(o), en = element_bytes(n);
  bool counts_known = (o.count.mode != Count::Mode::single && n.count.mode != Count::Mode::single) ||
                      (o.kind != FieldKind::opaque && n.kind != FieldKind::opaque);
  if (eo != en) {
    sink.add(s, path, "field-size-changed", content_verdict(fwd_both), content_verdict(bwd_both),
             fmt::format("Field {} changed from {} to {} bytes per element: the loader reads the "
                         "new width from a stream written with the old one.",
                         path, eo, en),
             fmt::format("Keep {} with its old size (or VMSTATE_UNUSED({})) and send the wider "
                         "value in a new subsection.",
                         o.name, eo),
             fmt::format("forward: in \"{}\" convert \"{}\" from {} to {} bytes", s.section, path,
                         eo, en));
  } else if (counts_known && o.count != n.count) {
    auto count_text = [](const Count& c) {
      if (c.mode == Count::Mode::from_field) return fmt::format("{{{}}} (max {})", c.field, c.max);
      return fmt::format("{}", c.mode == Count::Mode::fixed ? c.n : 1u);
    };
    sink.add(s, path, "array-length-changed", content_verdict(fwd_both),
             content_verdict(bwd_both),
             fmt::format("Array {} changed from {} to {} elements: the loader reads a different "
                         "number of bytes than the source wrote.",
                         path, count_text(o.count), count_text(n.count)),
             fmt::format("Keep {} at its old length and send the extra elements in a new "
                         "subsection.",
                         o.name),
             fmt::format("forward: in \"{}\" resize \"{}\" from {} to {} elements", s.section,
                         path, count_text(o.count), count_text(n.count)));
  } else if (o.kind != n.kind && o.kind != FieldKind::opaque && n.kind != FieldKind::opaque) {
    Verdict vf = std::min(content_verdict(fwd_both), Verdict::risk);
    Verdict vb = std::min(content_verdict(bwd_both), Verdict::risk);
    sink.add(s, path, "field-type-changed", vf, vb,
             fmt::format("Field {} changed type {} -> {} at the same width: streams load, but "
                         "the same bytes now mean something else.",
                         path, field_kind_name(o.kind), field_kind_name(n.kind)),
             "Keep the old type on the wire or convert in post_load.");
  } else if (!o.info.empty() && !n.info.empty() && o.info != n.info) {
    sink.add(s, path, "field-type-changed", std::min(content_verdict(fwd_both), Verdict::risk),
             std::min(content_verdict(bwd_both), Verdict::risk),
             fmt::format("Field {} changed encoding \"{}\" -> \"{}\" at the same size: streams "
                         "may load with a different meaning.",
                         path, o.info, n.info),
             "Keep the old encoding on the wire.");
  }
}

void FieldPass::nested_pair(const Field& o, const Field& n, const std::string& path,
                            Presence fwd_both, Presence bwd_both) {
  const Description& od = *o.nested;
  const Description& nd = *n.nested;
  if (od == nd) return;
  Scope inner = s;
  inner.path = path;
  inner.fwd = {od.version_id, nd.version_id};
  inner.bwd = {nd.version_id, od.version_id};
  inner.fwd_outer = combine_outer(s.fwd_outer, fwd_both);
  inner.bwd_outer = combine_outer(s.bwd_outer, bwd_both);
  inner.nested = true;
  if (o.has_test() || n.has_test()) inner.conditions.push_back({GateTarget::field, path, true});
  if (od.name != nd.name)
    sink.add(inner, path, "nested-renamed", Verdict::ok, Verdict::ok,
             fmt::format("Nested description of {} is now called \"{}\" (was \"{}\"); a nested "
                         "description's name is not on the wire.",
                         path, nd.name, od.name));
  compare_versions(od, nd, inner, sink, /*nested=*/true);
  compare_fields(od, nd, inner, sink);
  compare_subsections(od, nd, inner, sink);
}

void compare_fields(const Description& od, const Description& nd, const Scope& s, Sink& sink) {
  const auto& of = od.field_list();
  const auto& nf = nd.field_list();
  // Equal fields at both ends need no look (the common case by far).
  std::size_t lo = 0;
  while (lo < of.size() && lo < nf.size() && of[lo] == nf[lo]) ++lo;
  std::size_t ho = of.size(), hn = nf.size();
  while (ho > lo && hn > lo && of[ho - 1] == nf[hn - 1]) --ho, --hn;
  if (lo == ho && lo == hn) return;

  FieldPass p{s, sink};

  std::span<const Field> O(of.data() + lo, ho - lo), N(nf.data() + lo, hn - lo);
  auto pairs = align_by_name(O, N);
  // A leaf aligned with a struct of the same name is often the first of
  // several fields wrapped into that struct (QEMU's checker guesses the
  // same); leave both to the gap so the whole run is compared by layout.
  std::erase_if(pairs, [&](const auto& p) {
    return (O[p.first].nested != nullptr) != (N[p.second].nested != nullptr);
  });

  // Gaps between aligned pairs; a name unaligned in both is a move.
  struct Gap {
    std::vector<std::size_t> o, n;
  };
  std::vector<Gap> gaps(pairs.size() + 1);
  {
    std::size_t i = 0, j = 0;
    for (std::size_t k = 0; k <= pairs.size(); ++k) {
      std::size_t ei = k < pairs.size() ? pairs[k].first : O.size();
      std::size_t ej = k < pairs.size() ? pairs[k].second : N.size();
      for (; i < ei; ++i) gaps[k].o.push_back(i);
      for (; j < ej; ++j) gaps[k].n.push_back(j);
      ++i, ++j;
    }
  }
  std::vector<bool> o_moved(O.size(), false), n_moved(N.size(), false);
  {
    // Unaligned new fields by name, with their gap, in order.
    std::unordered_map<std::string_view, std::vector<std::pair<std::size_t, std::size_t>>> loose;
    for (std::size_t g = 0; g < gaps.size(); ++g)
      for (std::size_t ni : gaps[g].n) loose[N[ni].name].emplace_back(g, ni);
    for (std::size_t g = 0; g < gaps.size(); ++g)
      for (std::size_t oi : gaps[g].o) {
        if (is_unused(O[oi])) continue;
        auto it = loose.find(O[oi].name);
        if (it == loose.end()) continue;
        for (auto& [h, ni] : it->second)
          if (h != g && !n_moved[ni]) {
            o_moved[oi] = n_moved[ni] = true;
            p.reordered(O[oi], N[ni], lo + oi, lo + ni);
            break;
          }
      }
  }

  for (std::size_t k = 0; k <= pairs.size(); ++k) {
    std::vector<Field> go, gn;  // small; gaps are rare and short
    for (std::size_t oi : gaps[k].o)
      if (!o_moved[oi]) go.push_back(O[oi]);
    for (std::size_t ni : gaps[k].n)
      if (!n_moved[ni]) gn.push_back(N[ni]);
    p.gap(go, gn);
    if (k < pairs.size()) {
      const Field& a = O[pairs[k].first];
      const Field& b = N[pairs[k].second];
      if (!(a == b)) p.pair(a, b);
    }
  }
}

}  // namespace statewire::check_detail
