// statewire/handshake.hpp — what two migration peers tell each other before
// any state moves, and the destination's verdict.
//
// The source opens the control channel with a Hello: magic, protocol version,
// machine type, its capabilities, the number of data channels it wants, every
// device section it will send (name, instance, version, the version range its
// code reads, schema fingerprint) and its memory regions. The destination
// judges it against its own (check_hello) and answers with a Welcome (its own
// sections, the agreed capabilities and channel count) or a refusal naming
// every section it cannot load and why, before any bulk memory flows.
// Encodings are small, length-bounded and fully validated: a hostile peer gets
// an error naming the field, never a crash or a large allocation. The wire
// layout is in docs/live-migration.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "statewire/capabilities.hpp"
#include "statewire/cursor.hpp"
#include "statewire/memory_region.hpp"
#include "statewire/result.hpp"

namespace statewire {

class Registry;
class TransformSet;

// 2: the hello's regions as encode_layout() writes them; the memory digest
// before "prepared"; page CRCs negotiated (checksum.pages).
inline constexpr std::uint16_t kLiveProtocolVersion = 2;

// Bounds on what a peer may announce; every count is checked before reserving.
struct HandshakeLimits {
  std::size_t max_string = 4096;      // names, machine types, messages
  std::size_t max_capabilities = 256;
  std::size_t max_sections = 65536;
  std::size_t max_regions = 4096;
  std::uint32_t max_channels = 64;
};

struct SectionInfo {
  std::string name;
  std::uint32_t instance_id = 0;
  std::uint32_t version = 0;          // what the sender writes (source) / reads best (destination)
  std::uint32_t minimum_version = 0;  // the oldest its code reads
  std::uint64_t fingerprint = 0;      // schema_fingerprint() of its description
  bool may_be_missing = false;
  std::string label() const;          // "name/instance"
  friend bool operator==(const SectionInfo&, const SectionInfo&) = default;
};

struct Hello {
  std::string producer;      // "statewire 0.1.0"
  std::string machine_type;  // the workload's machine type ("demo-4.0", "vm-model")
  std::uint64_t session_id = 0;  // data channels name it in their hello
  CapabilitySet capabilities;
  std::uint32_t channels = 1;    // data channels the source wants
  std::vector<SectionInfo> sections;
  std::vector<RegionLayout> regions;
  friend bool operator==(const Hello&, const Hello&) = default;
};

// How the destination will take one of the source's sections.
struct SectionVerdict {
  std::string section;  // label
  std::uint32_t from = 0, to = 0;
  bool planner = false;  // versions differ: transforms at stop-and-copy
};

struct Welcome {
  std::string producer;
  CapabilitySet capabilities;  // the agreed set (intersection)
  std::uint32_t channels = 1;  // data channels to open
  std::vector<SectionInfo> sections;  // the destination's own
  friend bool operator==(const Welcome&, const Welcome&) = default;
};

// The device sections of a registry, as a Hello or Welcome lists them.
std::vector<SectionInfo> section_infos(const Registry& r);

[[nodiscard]] Bytes encode_hello(const Hello& h);
[[nodiscard]] Result<Hello> decode_hello(ByteSpan payload, const HandshakeLimits& lim = {});
[[nodiscard]] Bytes encode_welcome(const Welcome& w);
[[nodiscard]] Result<Welcome> decode_welcome(ByteSpan payload, const HandshakeLimits& lim = {});
// An error as it travels on the return path: code, message, offset, section, field.
[[nodiscard]] Bytes encode_error(const Error& e);
[[nodiscard]] Result<Error> decode_error(ByteSpan payload, const HandshakeLimits& lim = {});

// What the destination has to judge a Hello by.
struct DestinationProfile {
  std::vector<std::string> machine_types;  // accepted; empty: any
  CapabilitySet capabilities;              // what it supports
  std::uint32_t max_channels = 16;
  std::vector<SectionInfo> sections;       // what it reads
  std::vector<RegionLayout> regions;         // what it has
  const TransformSet* transforms = nullptr;  // version chains it can apply
};

struct HelloVerdict {
  Welcome welcome;
  std::vector<SectionVerdict> sections;
  bool needs_planner = false;
};

// Accepts or refuses a Hello. A refusal lists every problem (unknown
// section, version out of range with no transform chain, required section
// not sent, region names or sizes that differ, machine type, protocol); the
// Error's section names the first.
[[nodiscard]] Result<HelloVerdict> check_hello(const Hello& h, const DestinationProfile& d);

}  // namespace statewire
