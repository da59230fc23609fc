// statewire/capabilities.hpp — what a migration peer can do, and agreeing on it.
//
// Each end lists its capabilities by name; a manager (or the peers in a
// handshake) intersects the two lists and applies the result to a session. A
// peer that answers nothing has the empty set, which means the legacy QEMU
// codec with no extras: old peers keep working, they just get nothing new.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "statewire/compression.hpp"
#include "statewire/result.hpp"

namespace statewire {

namespace caps {
inline constexpr std::string_view kCodecQemu = "codec.qemu";      // always implied
inline constexpr std::string_view kCodecFramed = "codec.framed";
inline constexpr std::string_view kCodecJson = "codec.json";
inline constexpr std::string_view kChecksumCrc32c = "checksum.crc32c";
inline constexpr std::string_view kPageCrc = "checksum.pages";  // live migration's data channels
inline constexpr std::string_view kCompressZstd = "compress.zstd";
inline constexpr std::string_view kCompressLz4 = "compress.lz4";
inline constexpr std::string_view kReturnPath = "return-path";
inline constexpr std::string_view kMultiChannel = "multi-channel";
}  // namespace caps

// A set of capability names, kept sorted and unique. Names this build does
// not know are kept (a peer may be newer) but never agreed on.
class CapabilitySet {
 public:
  CapabilitySet() = default;
  explicit CapabilitySet(std::vector<std::string> names);

  bool contains(std::string_view name) const;
  const std::vector<std::string>& names() const { return names_; }
  bool empty() const { return names_.empty(); }
  friend bool operator==(const CapabilitySet&, const CapabilitySet&) = default;

 private:
  std::vector<std::string> names_;
};

// Every capability name statewire defines, with a one-line meaning.
struct CapabilityInfo {
  std::string_view name;
  std::string_view meaning;
  bool supported;  // by this build
};
const std::vector<CapabilityInfo>& known_capabilities();

// What this build supports.
CapabilitySet supported_capabilities();

// The capabilities both ends have, restricted to names this build knows.
CapabilitySet intersect(const CapabilitySet& a, const CapabilitySet& b);

// What a session does with an agreed set.
struct SessionSettings {
  std::string codec = "qemu";  // "framed" when agreed, else the legacy codec
  bool checksums = false;
  Compression compression = Compression::none;
  bool return_path = false;
  unsigned channels = 1;
  friend bool operator==(const SessionSettings&, const SessionSettings&) = default;
};

// Applies an agreed set: the framed codec when both have it (its checksums
// and compression only with it), zstd preferred over lz4.
SessionSettings apply(const CapabilitySet& agreed);

// "a,b,c" (whitespace ignored); "" or "none" is the empty set.
CapabilitySet parse_capability_list(std::string_view text);
// {"capabilities": ["a", ...]} as a peer answers a query; null or {} is empty.
[[nodiscard]] Result<CapabilitySet> capabilities_from_json(std::string_view json);
std::string to_json(const CapabilitySet& set);
std::string compression_name(Compression c);

}  // namespace statewire
