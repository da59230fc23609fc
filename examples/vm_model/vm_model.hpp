// The example virtual machine: a UART, a timer and a NIC, each saved as one
// section body in QEMU's VMState encoding. `statewire demo`, the tests and the
// benchmark use it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"
#include "vm_model/nic.hpp"
#include "vm_model/timer.hpp"
#include "vm_model/uart.hpp"

namespace vm_model {

struct Vm {
  Uart uart;
  Timer timer;
  Nic nic;
  friend bool operator==(const Vm&, const Vm&) = default;
};

// A VM in a busy, deterministic state: every field kind holds a non-default
// value, every test-gated field and every subsection is sent.
Vm make_sample_vm();

// One saved section: the body bytes and the version they were written at.
struct SavedSection {
  std::string name;
  std::uint32_t version = 0;
  statewire::Bytes body;
};

// Saves every device (at its current version) in the order uart, timer, nic.
[[nodiscard]] statewire::Result<std::vector<SavedSection>> save_vm(const Vm& vm);
// Loads sections by name into `vm`; `vm` changes only if all of them load.
[[nodiscard]] statewire::Result<void> load_vm(Vm& vm, const std::vector<SavedSection>& sections);
// The trees of the VM's sections, as statewire::Section values.
[[nodiscard]] statewire::Result<statewire::StateStream> vm_to_tree(const Vm& vm);
// The VM's schemas, one DeviceSchema per device (QOM-like keys "vm-uart", ...).
statewire::SchemaSet vm_schemas();

}  // namespace vm_model
