// The evolving example model: one small VM (a UART, a timer, a NIC) as four
// releases of its code, kept side by side (v1/ .. v4/), each with its own
// descriptions and machine types, plus the transforms between them
// (transforms.cpp). Every compatibility mechanism appears once:
//   v2  timer gains `prescale` with a version bump (timer 1 -> 2);
//   v3  the NIC's offload state goes into subsection nic/offload, needed only
//       while property nic.migrate-offload is on (off for demo-2.0 and older);
//       the UART's `scratch` becomes test-gated on uart.migrate-scratch (on only
//       for demo-2.0 and older): dropped from new machine types' streams;
//   v4  the NIC splits into nic (v2) and nic-filter (v1); the timer's count
//       widens to u64 and gains `remaining`, computed from count and prescale
//       (timer 2 -> 3); the UART's `ier` is renamed `int_enable`.
// Build N knows machine types demo-1.0 .. demo-N.0 (versioned: migration
// promised in both directions) and `demo` (unversioned: the newest layout, no
// promise across releases). Tests run the whole matrix
// (tests/examples/evolving_model_test.cpp); docs/compatibility.md shows it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/describe.hpp"
#include "statewire/machine_types.hpp"
#include "statewire/registry.hpp"
#include "statewire/result.hpp"
#include "statewire/schema_catalog.hpp"
#include "statewire/transform.hpp"
#include "statewire/value.hpp"
#include "statewire/vmstate_body.hpp"

namespace evolving_model {

// What the guest was doing when the state was saved.
enum class Workload : std::uint8_t {
  idle,  // defaults: prescaler 1, no offload
  busy,  // prescaler 4, TSO on, a filter table in use
};

// A VM of one build, alive, its devices registered: what a live migration
// moves (`statewire migrate --model evolving`). The registry points into the
// instance's VM, so the instance stays where it is (held by unique_ptr).
class Instance {
 public:
  virtual ~Instance() = default;
  statewire::Registry& registry() { return registry_; }

 protected:
  statewire::Registry registry_;
};

struct Build {
  std::uint32_t version = 0;
  statewire::MachineSet machines;   // newest first; `demo` (unversioned) first of all
  statewire::SchemaCatalog catalog; // this build's descriptions (the destination's schemas)
  // A fresh VM of this build on `machine`, running `w`, saved as a stream.
  std::function<statewire::Result<statewire::StateStream>(std::string_view machine, Workload w)> save;
  // Loads `state` into a fresh VM on `machine` through the build's Registry
  // (every section known, none missing, all or nothing), then saves that VM
  // again: what this build holds after loading.
  std::function<statewire::Result<statewire::StateStream>(const statewire::StateStream& state,
                                                          std::string_view machine)>
      reload;
  // How this build decides its test-gated fields on `machine` (from the
  // machine type's compat properties), for the planner's validation.
  std::function<statewire::TestResolver(std::string_view machine)> tests;
  // A VM of this build on `machine`, running `w` (a source), or fresh
  // (nullopt: a destination waiting for the state).
  std::function<statewire::Result<std::unique_ptr<Instance>>(std::string_view machine,
                                                             std::optional<Workload> w)>
      instantiate;
};

inline constexpr std::uint32_t kVersions = 4;
const Build& build(std::uint32_t version);  // 1..kVersions
// Every transform between the releases, both directions.
const statewire::TransformSet& transforms();

// A release saves at its own current version, which may be newer than the
// one the state arrived in (it reads older versions natively). To compare
// what arrived with what the release then holds, `planned` is carried on
// through the transforms to the versions of `saved` (unchanged if it cannot be).
statewire::StateStream at_versions_of(const statewire::StateStream& planned,
                                      const statewire::StateStream& saved, const Build& b,
                                      const statewire::TestResolver& tests);

namespace detail {

// An Instance holding one release's Vm; `make(vm)` registers its devices.
template <class Vm>
class LiveVm final : public Instance {
 public:
  Vm vm;
  template <class Register>
  statewire::Result<void> register_devices(Register make) {
    auto r = make(vm);
    if (!r) return statewire::fail(std::move(r.error()));
    registry_ = std::move(*r);
    return {};
  }
};

// Index of a machine type in a build's list, or an error naming it.
statewire::Result<std::size_t> machine_index(const statewire::MachineSet& m, std::string_view name,
                                             std::uint32_t build);
// Effective value of driver.property on that machine ("on"/"off"), or `def`.
bool property_on(const statewire::MachineSet& m, std::size_t machine, std::string_view driver,
                 std::string_view property, bool def);

}  // namespace detail

// Each release's entry point (v1/vm.cpp ...).
namespace v1 { Build make_build(); }
namespace v2 { Build make_build(); }
namespace v3 { Build make_build(); }
namespace v4 { Build make_build(); }

}  // namespace evolving_model
