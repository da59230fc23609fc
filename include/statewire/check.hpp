// statewire/check.hpp — find the schema changes that break migration.
//
// check_compat compares the schemas of an old and a new build (QEMU
// -dump-vmstate JSON or statewire's export) and says, per change, what a real
// loader does with the bytes in each direction: forward (old build sends, new
// build loads) and backward (new sends, old loads). Names are not on QEMU's
// wire, so a rename at the same size and position is no break while a field
// appended at the end, a `_V` field inside a nested struct or a raised
// minimum version are. With a MachineSet it also says which machine types
// migrate across the two builds. It reads schemas; what a stream showed
// (SentContent, gathered by the caller) narrows it to one VM and supplies the
// array lengths a QEMU 7.2 dump leaves out. Rendering (text, JSON) lives
// beside it; docs/check.md lists the rules.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/machine_types.hpp"
#include "statewire/schema.hpp"
#include "statewire/transform.hpp"

namespace statewire {

enum class Verdict : std::uint8_t {
  ok,      // streams load and mean the same
  risk,    // loads or breaks depending on run-time state (needed(), a test)
           // or loads with a changed meaning; needs a maintainer's review
  breaks,  // a real loader fails or puts bytes in the wrong fields
};
enum class Severity : std::uint8_t { info, warning, error };
enum class CheckDirection : std::uint8_t { forward, backward, both };

std::string_view verdict_name(Verdict v) noexcept;
std::string_view severity_name(Severity s) noexcept;
std::string_view direction_name(CheckDirection d) noexcept;

// A condition under which a finding matters: the named content is on the wire.
// `breaks_when_sent` is false for findings that break when the content is
// *not* sent (a test newly guarding a field that the other side always sends).
struct FindingCondition {
  GateTarget target = GateTarget::subsection;
  std::string name;  // subsection name, field path, "" for the section
  bool breaks_when_sent = true;
};

// A transform statewire applies (convert --to-schema, plan) that handles a
// finding on real state: the built-in repairs between QEMU releases, say.
struct KnownRepair {
  CheckDirection direction = CheckDirection::forward;  // forward or backward
  std::string transform;  // its label ("pciespscsi 2->2 (...)")
  std::string origin;     // "built-in", a rules file
  std::string op;         // the operation that handles the finding
  std::string refuses;    // set: the state is refused with this reason when the op finds it
};

struct Finding {
  std::string device;   // schema device key (QOM type); "" for dump-level findings
  std::string section;  // vmsd name: the section id on the wire
  std::string path;     // "state.divider", "[serial/recv_fifo].recv_fifo.head"
  std::string rule;     // stable rule id, see docs/check.md ("field-removed")
  Verdict forward = Verdict::ok;
  Verdict backward = Verdict::ok;
  Severity severity = Severity::info;  // from the verdicts of the checked directions
  std::string explanation;  // one sentence a device maintainer can act on
  std::string repair;       // how to change the device so it migrates ("" if none)
  std::string transform;    // a declarative rule that would load the old stream
  std::string new_name;     // field-renamed: the field's name in the new build
  std::vector<FindingCondition> conditions;  // innermost last
  // Other device types (sharing the section) with exactly this finding,
  // merged into this one so the report says it once.
  std::vector<std::string> same_in;
  // The same repair as data the transform layer applies (when it can be said
  // as tree operations): runs on the source's state for the direction named.
  std::optional<Transform> repair_transform;
  CheckDirection repair_direction = CheckDirection::forward;
  // Transforms of CheckOptions::transforms that handle this finding.
  std::vector<KnownRepair> known_repairs;
};

// The report's opening table: one row per device type with findings.
struct DeviceVerdict {
  std::string device;  // schema device key; "" for dump-level findings
  std::string section;
  Verdict forward = Verdict::ok;   // the worst finding's verdict per direction
  Verdict backward = Verdict::ok;
};

// What one stream actually sends (check --devices-from): findings about
// other sections, or about subsections of a decoded section that the stream
// did not carry, are left out ("will this VM migrate?").
struct SentContent {
  std::set<std::string, std::less<>> sections;     // idstrs and each '/' suffix of them
  std::set<std::string, std::less<>> subsections;  // names of subsections sent, anywhere
  std::set<std::string, std::less<>> undecoded;    // sections whose subsections are unknown
  // Array lengths the stream shows (its trailer, or a description that knows
  // them), by vmsd name, then field path as check prints it
  // ("core.eitr_intr_pending", "[e1000e/intr].field"); 0 when instances
  // disagree (a run-time length). The stream is the old build's: where the old
  // dump records no count (QEMU 7.2 shows an array as one element), these are used.
  std::map<std::string, std::map<std::string, std::uint32_t>, std::less<>> counts;
};
// Fills SentContent::counts from a decoded stream section body.
void collect_counts(const Struct& body, const std::string& vmsd_name, SentContent& out);

// A (source build, machine type) -> (destination build, same machine type) pair.
struct MachinePair {
  std::string machine;
  CheckDirection direction = CheckDirection::forward;  // forward or backward
  Verdict verdict = Verdict::ok;
  std::vector<std::string> reasons;  // one line per finding that decides it
};

struct CheckOptions {
  CheckDirection direction = CheckDirection::both;
  const MachineSet* machines = nullptr;  // optional; evaluated when set
  const SentContent* sent = nullptr;     // optional; judge only what a stream sends
  // Optional: transforms statewire applies (qemu_builtin_transforms()); each
  // finding one of them handles lists it (Finding::known_repairs).
  const TransformSet* transforms = nullptr;
};

struct CheckReport {
  std::optional<std::string> old_machine, new_machine;
  CheckDirection direction = CheckDirection::both;
  std::size_t devices_compared = 0;
  std::vector<Finding> findings;    // grouped by device in old-dump order
  std::vector<MachinePair> machines;
  std::vector<DeviceVerdict> devices;  // device types with findings, in findings order
  std::size_t merged = 0;              // duplicate findings folded into others
  std::size_t filtered = 0;            // findings left out by `sent`
  std::size_t stream_counts = 0;       // old-dump array lengths taken from `sent`

  std::size_t count(Severity s) const noexcept;
  bool breaking() const noexcept { return count(Severity::error) > 0; }
};

CheckReport check_compat(const SchemaSet& old_schema, const SchemaSet& new_schema,
                         const CheckOptions& options = {});

struct RenderOptions {
  bool show_info = true;  // text: list info findings too
};
// The typed repairs of a report, for a person to review (check --rules-out).
TransformSet repair_transforms(const CheckReport& report);

std::string render_check_text(const CheckReport& report, const RenderOptions& opt = {});
std::string render_check_json(const CheckReport& report);

}  // namespace statewire
