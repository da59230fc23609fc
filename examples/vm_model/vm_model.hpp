// The example virtual machine: a UART, a timer and a NIC, each registered once
// with a statewire::Registry and saved as one section (QEMU's VMState body
// encoding) through any codec. `statewire demo`, the tests and the benchmark
// use it.
#pragma once

#include "statewire/registry.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
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

// The registry of `vm`'s devices: sections uart, timer and nic (instance 0
// each), in that order, typed "vm-uart", "vm-timer", "vm-nic". Saving and
// loading the VM is saving and loading this registry; `vm` must outlive it.
[[nodiscard]] statewire::Result<statewire::Registry> vm_registry(Vm& vm);
// The VM's schemas, one DeviceSchema per device (QOM-like keys "vm-uart", ...).
statewire::SchemaSet vm_schemas();

}  // namespace vm_model
