// statewire/validate.hpp — would a destination load this state? Checked on the
// tree, before anything is written.
//
// validate_body() walks a destination's Description over a section's state
// tree the way the destination's loader walks bytes (spec: fields in
// declaration order, a field present iff its version or its test says so,
// nested structs at the destination's own nested version, subsections by
// name with their own version range) and reports every place where the tree
// is not what that loader reads: a field missing or unknown, a width, kind,
// size or element count that differs, an unknown subsection, a version out of
// range. It returns all problems, not the first, each an Error naming section
// and field path ("[serial/fifo].head"). It never changes the tree.
//
// Test-gated fields: the source decides what it sends, so without a predicate
// a test-gated field is taken as sent iff the tree has it at that position.
// This header knows no wire format beyond the VMState body rules; the QEMU
// stream's own trailer and dumps are turned into Descriptions elsewhere.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "statewire/error.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {

struct ValidateOptions {
  // Decides test-gated fields; unresolved tests fall back to what the tree holds.
  const TestResolver* tests = nullptr;
  // Stop collecting after this many problems (a wholly wrong schema would
  // otherwise report every field).
  std::size_t max_problems = 200;
  // The schema is a QEMU -dump-vmstate file: it records no element counts
  // (before "num") and lists no CPU, RAM-block or bus sections, so a field
  // read once may hold any number of elements (an array of structs with none
  // is absent from the tree), and a section the dump lacks is unchecked
  // rather than refused.
  bool dump_schema = false;
};

// Problems a loader of `d` at `version` would hit on `body`; empty when it loads.
// `section` labels the errors ("serial/0").
[[nodiscard]] std::vector<Error> validate_body(const Struct& body, const Description& d,
                                               std::uint32_t version, std::string_view section,
                                               const ValidateOptions& opt = {});

// Which descriptions the destination may have for a section: empty = none (an
// unknown section, refused as QEMU refuses it); several = the section passes
// when it matches one of them (a dump's QOM types sharing a vmsd name).
using DescriptionLookup = std::function<std::vector<const Description*>(const Section&)>;

struct StreamValidation {
  std::vector<Error> problems;
  std::vector<std::string> unchecked;  // sections skipped, with the reason ("ram/0: RAM pages")
  bool ok() const noexcept { return problems.empty(); }
};

// Every single-record (FULL) section of a stream. Sections split in records
// (QEMU's iterative RAM) and bodies nothing explained (one opaque blob) are
// listed in `unchecked`, since no description says what their bytes are.
[[nodiscard]] StreamValidation validate_stream(const StateStream& stream,
                                               const DescriptionLookup& lookup,
                                               const ValidateOptions& opt = {});

// One section of a stream as validate_stream judges it (for converters that
// check sections as they pass): its problems are appended to `out.problems`,
// or the reason it was not checked to `out.unchecked`.
void validate_section(const Section& s, const DescriptionLookup& lookup, const ValidateOptions& opt,
                      StreamValidation& out);

// Bytes a value takes in the VMState encoding (what encode_value writes).
std::uint64_t vmstate_wire_size(const Value& v) noexcept;

}  // namespace statewire
