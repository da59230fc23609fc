// statewire/proxy.hpp — a live QEMU migration passed through statewire.
//
// The source QEMU migrates into the proxy, the proxy into the destination
// QEMU. Bytes that need no change (RAM, every untouched section) are
// forwarded as they arrive: the stream is parsed record by record to know
// where sections start and end, but pages are never copied into trees.
// Renamed sections and the machine type change headers only and are spliced
// in passing. When section bodies are to be rewritten (a plan into the
// destination's schemas, rules), the device sections QEMU sends last are held
// back from the first one until the description trailer that follows them
// has arrived, decoded with it, transformed, validated against the
// destination and forwarded with a rewritten trailer (docs/proxy.md says why
// and what it costs). The destination's return-path messages travel back to
// the source on a second thread, so a source with QEMU's `return-path`
// capability learns whether the destination loaded the state. QEMU's
// multifd channels pass through unchanged; postcopy is refused at its start.
//
// A migration the proxy cannot make acceptable is failed before the
// destination gets any of the device state: both connections are closed and
// ProxyResult::reason names the section and field.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "statewire/channel.hpp"
#include "statewire/planner.hpp"
#include "statewire/schema.hpp"
#include "statewire/schema_catalog.hpp"
#include "statewire/transform.hpp"

namespace statewire {

struct ProxyProgress {
  std::uint64_t bytes_in = 0;        // from the source
  std::uint64_t bytes_out = 0;       // to the destination
  std::uint64_t bytes_back = 0;      // return path, destination to source
  double seconds = 0;
  std::uint32_t sections_rewritten = 0;
  bool final = false;
};

struct ProxyOptions {
  // The destination's schemas (--to-schema): device sections are planned into
  // them and validated; null or empty: no plan.
  const SchemaCatalog* destination = nullptr;
  // Transforms (built-in repairs, rules files) and validation options.
  const PlanOptions* plan = nullptr;
  // Without a destination schema, rules are applied by section name and
  // version (as `convert --rules` does).
  bool apply_rules_without_plan = false;
  // Section ids renamed on the way ("0000:00:05.0/pci-serial" ->
  // "0000:00:06.0/pci-serial"): the same device at another PCI address.
  std::vector<std::pair<std::string, std::string>> renames;
  // The machine type the configuration section announces, rewritten.
  std::optional<std::string> machine_type;
  // The source's schemas for streams that carry no description trailer
  // (machine types with suppress-vmdesc); the trailer wins when present.
  const SchemaSet* source_dump = nullptr;
  // Carry the destination's return-path messages back to the source.
  bool return_path = true;
  // Where they come from and go to when that is not the forward channel
  // itself: QEMU runs an exec: command with a pipe both ways, so on the
  // source's side the way back is the proxy's standard output, and on the
  // destination's side its standard input.
  Channel* source_back = nullptr;
  Channel* destination_back = nullptr;
  // Receive buffer towards the source and send buffer towards the
  // destination, in bytes (the kernel doubles it); 0 keeps the kernel's
  // autotuned buffers. Small, so the proxy adds few bytes in flight.
  int socket_buffer = 256 * 1024;
  // QEMU's multifd: the source opens further connections to the same
  // address after the main one, carrying RAM pages only. When set, each is
  // accepted here while the migration runs and passed through unchanged to a
  // new destination connection from `connect_destination`, opened after the
  // main one (QEMU 7.2's destination takes its first connection as the main
  // channel and every later one as multifd; docs/proxy.md).
  Listener* more_sources = nullptr;
  std::function<Result<Channel>()> connect_destination;
  // Bounds every wait for the source or the destination.
  Timeout idle_timeout{std::chrono::seconds(60)};
  // Called about every `progress_interval` while bytes flow, and once at the end.
  std::function<void(const ProxyProgress&)> progress;
  std::chrono::milliseconds progress_interval{500};
};

struct ProxyResult {
  bool ok = false;
  std::string reason;                 // why it failed (empty when ok)
  std::uint64_t bytes_in = 0, bytes_out = 0, bytes_back = 0;
  double seconds = 0;                 // first byte to the end of both directions
  std::uint64_t sections = 0;         // section records seen
  std::vector<std::string> rewritten; // labels of sections changed (as the destination sees them)
  bool configuration_rewritten = false;
  // Held device sections: bytes, and from the first held byte to the moment
  // they were forwarded (what holding costs the migration's downtime), of
  // which `transform_seconds` went into decoding, planning and encoding.
  std::uint64_t held_bytes = 0;
  double held_seconds = 0, transform_seconds = 0;
  bool trailer = false;               // the source sent a description trailer
  bool return_path = false;           // the destination answered on the return path
  std::optional<std::uint32_t> destination_shut;  // its SHUT value (0: loaded)
  // When things happened, in seconds from the proxy's start (negative:
  // never), to see where a migration's downtime goes: the source's completion
  // phase begins (first SECTION_END: its guest is stopped, the last RAM
  // follows), the first device section, EOF, the trailer's last byte, the
  // stream up to EOF written to the destination, and the destination's answer.
  struct Timeline {
    double completion = -1, device_state = -1, eof = -1, trailer = -1, eof_sent = -1,
           answer = -1;
    // Input offsets of the completion phase's first record and of EOF: what
    // the source sent after stopping its guest is the difference.
    std::uint64_t completion_offset = 0, eof_offset = 0;
  } timeline;
  double cpu_seconds = 0;             // the proxy process's user+system time
  // Multifd channels passed through, and their bytes (also in bytes_in/out).
  std::uint32_t extra_channels = 0;
  std::uint64_t extra_bytes = 0;
};

// Runs one migration from `source` to `destination` to its end. Never throws;
// both channels are closed when it returns.
ProxyResult run_proxy(Channel& source, Channel& destination, const ProxyOptions& opt);

std::string render_proxy_text(const ProxyResult& r);
std::string render_proxy_json(const ProxyResult& r);

}  // namespace statewire
