// statewire/framed.hpp — statewire's self-delimiting framed wire format.
//
// Unlike QEMU's stream, every record carries its length and a CRC32C, every
// field its name (through a per-stream name table), type and length, so a
// reader that gets out of step finds out at once, and can say where. The byte
// layout is specified in docs/framed-format.md. The codec carries no version
// logic: compatibility belongs to the transform layer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"
#include "statewire/value.hpp"
#include "statewire/compression.hpp"
#include "statewire/limits.hpp"

namespace statewire {

inline constexpr std::uint16_t kFramedFormatVersion = 1;

struct FramedHeader {
  std::string producer = "statewire";
  std::string producer_version;
  std::string machine_type;
  std::vector<std::string> capabilities;  // as negotiated (capabilities.hpp)
  // Format-specific facts a stream needs to be reproduced exactly (e.g. the
  // QEMU stream's configuration switches), as ordered key/value pairs.
  std::vector<std::pair<std::string, std::string>> properties;
  friend bool operator==(const FramedHeader&, const FramedHeader&) = default;
};

struct FramedEncodeOptions {
  FramedHeader header;
  Compression compression = Compression::none;
  int zstd_level = 1;  // speed first: state moves while a guest waits
  // Fingerprint of the schema that wrote each section, by section name
  // (schema_fingerprint() in schema.hpp); 0 when unknown.
  std::map<std::string, std::uint64_t, std::less<>> fingerprints;
  // Sections a reader that does not know them may skip (default: mandatory).
  std::function<bool(const Section&)> optional_section;
};

enum class UnknownSectionPolicy : std::uint8_t { refuse, skip };

struct FramedDecodeOptions {
  Limits limits;
  // Whether the destination knows a section; unset means "knows every section".
  std::function<bool(const Section&)> known_section;
  // For unknown sections marked optional; unknown mandatory sections are always refused.
  UnknownSectionPolicy unknown_optional = UnknownSectionPolicy::skip;
  // For unknown sections marked mandatory: refuse (default) or skip anyway.
  UnknownSectionPolicy unknown_mandatory = UnknownSectionPolicy::refuse;
};

struct SectionProvenance {
  std::string section;  // "name/instance"
  std::uint64_t schema_fingerprint = 0;
};

struct FramedStream {
  FramedHeader header;
  StateStream stream;
  std::vector<SectionProvenance> provenance;  // one per decoded section, in order
  std::vector<std::string> skipped;           // what was skipped by policy, and why
  std::uint64_t bytes = 0;                    // total size, end record included
};

[[nodiscard]] Result<Bytes> encode_framed(const StateStream& s, const FramedEncodeOptions& opt = {});
[[nodiscard]] Result<FramedStream> decode_framed(ByteSpan bytes, const FramedDecodeOptions& opt = {});

// True if the bytes start with the framed format's magic.
bool is_framed(ByteSpan bytes) noexcept;

}  // namespace statewire
