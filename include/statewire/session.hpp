// statewire/session.hpp — a live migration between two processes: the source
// and destination sessions as explicit state machines.
//
//   setup → negotiate → iterate → stop_and_copy → complete
//                 (any state) → failed | cancelled
//
// One control channel carries the handshake (handshake.hpp), a round report
// after each pre-copy round, the device state (the Registry's sections as a
// framed stream) and, on the same socket the other way, the destination's
// answer: "applied" with its checksums, or its exact error. N data channels
// carry only page records (ram_transfer.hpp). The destination stages
// everything (pages, each section through a LoadTransaction, the planner's
// result when versions differ) and applies nothing until every part arrived
// and validated; then memory and devices are committed together. A source
// whose destination did not acknowledge never reports success, and on any
// failure (a dropped connection, a refusal, a bad section, cancel) its own
// state is untouched and it says why. The protocol: docs/live-migration.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "statewire/capabilities.hpp"
#include "statewire/channel.hpp"
#include "statewire/dirty_tracker.hpp"
#include "statewire/handshake.hpp"
#include "statewire/memory_region.hpp"
#include "statewire/precopy.hpp"
#include "statewire/ram_transfer.hpp"
#include "statewire/registry.hpp"
#include "statewire/result.hpp"
#include "statewire/validate.hpp"

namespace statewire {

class TransformSet;

enum class SessionState : std::uint8_t {
  setup,          // opening the control channel
  negotiate,      // handshake, data channels
  iterate,        // pre-copy rounds while the program runs
  stop_and_copy,  // program stopped: last pages, device state, the answer
  complete,       // the destination applied everything (and said so)
  failed,         // see the result's error; nothing was applied on the destination
  cancelled,      // asked to stop; nothing was applied on the destination
};
std::string_view session_state_name(SessionState s) noexcept;

// One transition, as the observer sees it.
struct StateChange {
  SessionState from = SessionState::setup;
  SessionState to = SessionState::setup;
  std::string why;      // what happened ("handshake accepted, 2 channels", the error)
  double seconds = 0;   // since the session started
};
using StateObserver = std::function<void(const StateChange&)>;

// Bulk memory a session moves (both ends register the same regions).
struct SessionMemory {
  RegionSet* regions = nullptr;     // nullptr or empty: device state only
  DirtyTracker* tracker = nullptr;  // source: finds the pages written between rounds
  PrecopyPolicy policy;             // source: when to stop iterating
  std::uint64_t bandwidth_limit = 0;  // source: bytes/s over all channels, 0 = none
  RamProgressFn progress;           // source: during and after every round
};

struct SourceOptions {
  std::string machine_type;
  CapabilitySet capabilities = supported_capabilities();
  std::uint32_t channels = 1;  // data channels wanted (multi-channel must be agreed)
  Timeout connect_timeout{5000};
  // Bounds every wait for the peer (the answer included); never infinite.
  Timeout timeout{30000};
  StateObserver on_state;
  const std::atomic<bool>* cancel = nullptr;  // set from any thread to stop
  // Stop-and-copy stops the program with pause(); a failed or cancelled
  // migration after that lets it run again with resume().
  std::function<void()> pause;
  std::function<void()> resume;
  RegistrySaveOptions save;
  // The end-to-end memory digest (RamSender::memory_digest), sent at the
  // stop; the destination compares its staged image with it before it says
  // "prepared", so damage is refused before anything is applied. The pass
  // over memory runs between rounds while the program runs; the stop pays
  // for the final round's pages only.
  bool verify_memory = true;
  // A CRC32C of every page on the data channels (capability checksum.pages).
  // Unset: off on tcp/unix sockets, whose own checksums and the digest above
  // cover the bytes at a third of the cost, on for other channel kinds.
  std::optional<bool> page_checksums;
};

struct SessionSummary {
  SessionState state = SessionState::setup;
  std::optional<Error> error;     // why it did not complete
  bool refused_by_peer = false;   // error is the peer's own, delivered on the return path
  SessionSettings settings;
  std::string machine_type;       // the source's, which the destination runs
  std::uint32_t channels = 0;     // data channels used
  bool page_checksums = false;    // a CRC32C of every page on the data channels
  std::vector<SectionVerdict> sections;  // how the destination takes each section
  std::uint64_t rounds = 0;       // pre-copy rounds, the final one included
  std::uint64_t memory_bytes = 0; // page bytes moved
  std::uint64_t wire_bytes = 0;   // bytes on every channel, both directions
  std::uint64_t device_bytes = 0; // the device state record
  double seconds = 0;             // the whole session (handshake and verification included)
  double memory_seconds = 0;      // source: sending pages, every round
  double verify_ms = 0;           // source: the memory digest at the stop (part of the downtime)
  double downtime_ms = 0;         // source: pause() until the destination's "applied"
  double expected_downtime_ms = 0;  // the policy's estimate when it stopped iterating
  std::string answer;             // the destination's acknowledgement, as text
  std::optional<bool> devices_verified;  // the destination re-saved what it applied and compared
  std::optional<bool> memory_verified;
  bool verified() const {
    return devices_verified.value_or(false) && memory_verified.value_or(true);
  }
};

// Migrates `devices` (and `memory`) to the destination at `to`. Never throws;
// the summary says how it ended.
SessionSummary migrate_source(const Registry& devices, const SessionMemory& memory,
                              const Endpoint& to, const SourceOptions& opt);

struct DestinationOptions {
  std::string producer;                     // in the Welcome; "" = "statewire"
  std::vector<std::string> machine_types;   // accepted; empty: any
  // Chooses the devices by the source's machine type, once its hello arrived
  // and before it is judged: returns the registry to load into (alive until
  // the session ends), or an error the source receives as the refusal.
  // Unset: the `devices` passed to migrate_destination.
  std::function<Result<Registry*>(const std::string& machine_type)> select_machine;
  CapabilitySet capabilities = supported_capabilities();
  std::uint32_t max_channels = 16;
  Timeout accept_timeout{30000};  // for the control channel's peer
  Timeout timeout{30000};         // every later wait (a round, the device state)
  StateObserver on_state;
  const std::atomic<bool>* cancel = nullptr;
  // Versions that differ: the transforms and how this build decides its
  // test-gated fields (the planner validates with them).
  const TransformSet* transforms = nullptr;
  const TestResolver* tests = nullptr;
  RegistryLoadOptions load;
  std::size_t max_device_state = 64u << 20;  // bytes of the device state record
  HandshakeLimits limits;
};

// Receives one migration on `listener` into `devices` and `memory`: the
// control channel, then the data channels agreed. Nothing is applied unless
// everything arrived and validated.
SessionSummary migrate_destination(Registry& devices, const SessionMemory& memory,
                                   Listener& listener, const DestinationOptions& opt);

}  // namespace statewire
