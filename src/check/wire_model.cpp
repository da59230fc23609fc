// The load-side model `check` judges by (spec/compatibility-rules.md §1): a
// field without a test is on the wire iff its version_id is at most the gating
// version; a field with a test is on the wire iff the test holds, which a dump
// cannot tell. From that follow the verdict helpers every comparison uses.
#include <algorithm>

#include "check/compare.hpp"

namespace statewire::check_detail {

Presence presence(const Field& f, std::uint32_t gate_version) noexcept {
  if (f.has_test()) return Presence::test;
  return f.version_id <= gate_version ? Presence::yes : Presence::no;
}

Presence both(Presence sent, Presence read) noexcept {
  if (sent == Presence::test || read == Presence::test) return Presence::test;
  if (sent == Presence::yes && read == Presence::yes) return Presence::yes;
  // Neither side, or a mismatch that a gating finding already reports: the
  // content itself is moot here.
  return Presence::no;
}

Verdict lone_verdict(Presence p) noexcept {
  switch (p) {
    case Presence::yes: return Verdict::breaks;
    case Presence::test: return Verdict::risk;
    case Presence::no: return Verdict::ok;
  }
  return Verdict::ok;
}

Verdict pair_gate_verdict(Presence sent, Presence read) noexcept {
  if (sent == read) return Verdict::ok;  // both tests: the same predicate is assumed
  if (sent == Presence::test || read == Presence::test) return Verdict::risk;
  return Verdict::breaks;
}

Verdict content_verdict(Presence combined) noexcept { return lone_verdict(combined); }

bool is_unused(const Field& f) noexcept {
  return f.kind == FieldKind::unused || (f.kind == FieldKind::opaque && f.name == "unused");
}

std::uint64_t element_bytes(const Field& f) noexcept {
  // Typed exports know the wire width; QEMU's dumps only have `size`.
  return f.element_wire_size().value_or(f.size);
}

std::optional<std::uint64_t> field_bytes(const Field& f) noexcept {
  std::uint64_t n = 1;
  if (f.count.mode == Count::Mode::fixed) n = f.count.n;
  if (f.count.mode == Count::Mode::from_field || f.list || f.nullable || f.gtree)
    return std::nullopt;
  if (f.nested) {
    if (!f.nested->subsection_list().empty()) return std::nullopt;
    std::uint64_t sum = 0;
    for (const auto& g : f.nested->field_list()) {
      if (g.has_test()) return std::nullopt;
      auto b = field_bytes(g);
      if (!b) return std::nullopt;
      sum += *b;
    }
    return sum * n;
  }
  if (f.kind == FieldKind::string || f.kind == FieldKind::custom || f.size == 0)
    return std::nullopt;  // run-time length (VBUFFER, custom VMStateInfo)
  return element_bytes(f) * n;
}

namespace {
Verdict apply_outer(Verdict v, Presence outer) {
  if (outer == Presence::no) return Verdict::ok;
  if (outer == Presence::test) return std::min(v, Verdict::risk);
  return v;
}
}  // namespace

Finding& Sink::add(const Scope& s, std::string path, std::string_view rule, Verdict fwd,
                   Verdict bwd, std::string explanation, std::string repair,
                   std::string transform) {
  Finding f;
  f.device = s.device;
  f.section = s.section;
  f.path = std::move(path);
  f.rule = std::string(rule);
  f.forward = apply_outer(fwd, s.fwd_outer);
  f.backward = apply_outer(bwd, s.bwd_outer);
  f.explanation = std::move(explanation);
  f.repair = std::move(repair);
  f.transform = std::move(transform);
  f.conditions = s.conditions;
  findings.push_back(std::move(f));
  return findings.back();
}

}  // namespace statewire::check_detail
