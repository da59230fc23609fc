// statewire/machine_types.hpp — versioned machine types, their compat
// properties, and which property gates which piece of wire content.
//
// A machine type (`acme-2.0`, `pc-i440fx-7.1`) carries compat properties
// (driver, property, value) and inherits those of every newer machine type;
// where two disagree the older machine's entry wins, as in QEMU. A gate says
// that a device's section, subsection (`needed`) or test-gated field is on the
// wire exactly when a property has a given value. `statewire check --machines`
// uses these to say which (build, machine type) pairs migrate. The types are
// deliberately not check-specific: the transform layer is meant to own them.
// This header knows nothing about schemas or streams.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/result.hpp"

namespace statewire {

struct CompatProperty {
  std::string driver;    // device type the property is set on
  std::string property;
  std::string value;
  friend bool operator==(const CompatProperty&, const CompatProperty&) = default;
};

struct MachineType {
  std::string name;
  // The machine type exists only in the newer build (e.g. the new release's
  // own machine type): the old build cannot run it, so no cross-build pair.
  bool only_new = false;
  std::vector<CompatProperty> compat;  // its own entries, not the inherited ones
  // Versioned types (`demo-2.0`) promise migration with every build that has
  // them, both ways; unversioned ones (`demo`, an alias of the newest layout)
  // work or fail with a clear error (the planner and the model tests say which).
  bool versioned = true;
};

// What a gate controls.
enum class GateTarget : std::uint8_t { section, subsection, field };

struct PropertyGate {
  std::string device;    // schema device key (QOM type) whose content is gated
  GateTarget target = GateTarget::subsection;
  std::string name;      // subsection name or field path ("" for a section)
  std::string driver;    // driver the compat property is set on (defaults to device)
  std::string property;
  std::string default_value;  // value when no compat property sets it
  std::string active_when;    // content is on the wire iff property == this
};

struct MachineSet {
  std::vector<MachineType> machines;  // newest first
  std::vector<PropertyGate> gates;

  // Effective value of driver.property on machine `machine` (index into
  // `machines`): the default, overridden by compat entries of every newer
  // machine and then the machine's own; nullopt when nothing sets it.
  std::optional<std::string> property_value(std::size_t machine, std::string_view driver,
                                            std::string_view property) const;
  // Whether a gate's content is on the wire on that machine type.
  bool gate_active(std::size_t machine, const PropertyGate& gate) const;
  const PropertyGate* find_gate(std::string_view device, GateTarget target,
                                std::string_view name) const;
};

// The JSON shape is documented in docs/check.md.
[[nodiscard]] Result<MachineSet> parse_machine_set_json(std::string_view json);
[[nodiscard]] Result<MachineSet> load_machine_set_file(const std::string& path);

}  // namespace statewire
