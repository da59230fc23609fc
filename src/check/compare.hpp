// The comparison core of `check`: a Scope says where in the schema we are and
// which versions decide whether a field is on the wire in each direction; the
// compare_* functions walk old and new descriptions side by side and append
// findings. Private to src/check/.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <string>
#include <vector>

#include "statewire/check.hpp"

namespace statewire::check_detail {

// Whether one side puts (or expects) a field on the wire.
enum class Presence : std::uint8_t { no, yes, test };

// Per-direction versions that gate fields. For a section or subsection the
// source writes its own version_id and the destination gates by that same
// incoming number; for a nested struct each side uses its own nested version
// (the nested version is never on the wire).
struct DirectionVersions {
  std::uint32_t src = 0;  // gates the source's fields
  std::uint32_t dst = 0;  // gates the destination's fields
};

struct Scope {
  std::string device;
  std::string section;
  std::string path;  // prefix for field paths ("" at the top of a section)
  DirectionVersions fwd, bwd;
  bool nested = false;  // inside a nested struct: each side gates by its own version
  // Is the enclosing struct on the wire in each direction (on both sides)?
  Presence fwd_outer = Presence::yes, bwd_outer = Presence::yes;
  std::vector<FindingCondition> conditions;  // enclosing subsections, tested structs
  // Does each dump record element counts? QEMU 7.2's -dump-vmstate does not:
  // an array there looks like one element, so its byte total is unknown.
  bool old_counts = true, new_counts = true;

  std::string join(std::string_view name) const {
    return path.empty() ? std::string(name) : path + "." + std::string(name);
  }
};

struct Sink {
  std::vector<Finding> findings;
  // Adds a finding at scope, applying the enclosing struct's presence to the
  // verdicts (content of a struct nobody sends cannot break).
  Finding& add(const Scope& s, std::string path, std::string_view rule, Verdict fwd, Verdict bwd,
               std::string explanation, std::string repair = {}, std::string transform = {});
};

Presence presence(const Field& f, std::uint32_t gate_version) noexcept;
// Both sides of a pair combined: on the wire for both, for neither, or test-dependent.
Presence both(Presence sent, Presence read) noexcept;
// A field sent by the source but not read, or read but not sent.
Verdict lone_verdict(Presence p) noexcept;
Verdict pair_gate_verdict(Presence sent, Presence read) noexcept;
// A change in a pair's content (size, type) matters only where both sides move it.
Verdict content_verdict(Presence combined) noexcept;

bool is_unused(const Field& f) noexcept;
// Wire bytes of one element when the dump tells (leaf fields).
std::uint64_t element_bytes(const Field& f) noexcept;
// Total wire bytes of a field, nullopt when run-time dependent.
std::optional<std::uint64_t> field_bytes(const Field& f) noexcept;

// Pairs (i, j) with a[i].name == b[j].name, increasing in both: the longest
// common subsequence, or a greedy match for lists too long for its table.
std::vector<std::pair<std::size_t, std::size_t>> align_by_name(std::span<const Field> a,
                                                                 std::span<const Field> b);

void compare_versions(const Description& o, const Description& n, const Scope& s, Sink& sink,
                      bool nested);
void compare_fields(const Description& o, const Description& n, const Scope& s, Sink& sink);
void compare_subsections(const Description& o, const Description& n, const Scope& s, Sink& sink);
// Fields then subsections of a section-like description (top level or subsection).
void compare_body(const Description& o, const Description& n, const Scope& s, Sink& sink);
void compare_devices(const SchemaSet& o, const SchemaSet& n, Sink& sink, std::size_t& compared);
// True when some field carries a count ("num", statewire's typed export).
bool records_counts(const SchemaSet& s) noexcept;

void evaluate_machines(const MachineSet& machines, CheckReport& report);
// Fills Finding::repair_transform where the textual repair is a tree operation.
void attach_repairs(const SchemaSet& o, const SchemaSet& n, CheckReport& report);
void attach_known_repairs(const SchemaSet& o, const SchemaSet& n, const TransformSet& set,
                          CheckReport& report);

}  // namespace statewire::check_detail
