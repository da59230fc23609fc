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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "statewire/byte_source.hpp"
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
  // The most input a FramedStreamReader holds at once: one record (a chunk of
  // 256 RAM pages is about 1 MiB). A longer record is an error naming its
  // offset. Input already in memory (decode_framed) is not copied or bounded.
  std::size_t max_buffer = 64u << 20;
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

// Section-at-a-time writing, to a sink (or, without one, to memory: take()).
// begin() writes the magic and header record; envelope() an envelope record
// (several may be written, anywhere: a reader merges them in order); section()
// one section with its bulk memory in CHUNK records; finish() the end record.
// A section whose bulk is not all known yet (RAM arriving from a pipe) is
// written as begin_section() with the index of its bulk array member (whose
// items are ignored), bulk_item() per element, end_section(): the array's
// count on the wire is then "open" (docs/framed-format.md). Output reaches
// the sink in pieces of about 1 MiB; memory stays at one chunk. `opt` is
// read as sections are written (a caller may update its fingerprints between
// sections) and must outlive the writer.
class FramedStreamWriter {
 public:
  explicit FramedStreamWriter(const FramedEncodeOptions& opt, ByteSink* sink = nullptr);
  ~FramedStreamWriter();
  FramedStreamWriter(const FramedStreamWriter&) = delete;
  FramedStreamWriter& operator=(const FramedStreamWriter&) = delete;

  [[nodiscard]] Result<void> begin();
  [[nodiscard]] Result<void> envelope(const Struct& env);
  [[nodiscard]] Result<void> section(const Section& s);
  [[nodiscard]] Result<void> begin_section(const Section& head, std::size_t bulk_member);
  [[nodiscard]] Result<void> bulk_item(const Value& element);
  [[nodiscard]] Result<void> end_section();
  [[nodiscard]] Result<void> finish();

  void reserve(std::size_t n);
  Bytes take() &&;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

[[nodiscard]] Result<Bytes> encode_framed(const StateStream& s, const FramedEncodeOptions& opt = {});
[[nodiscard]] Result<FramedStream> decode_framed(ByteSpan bytes, const FramedDecodeOptions& opt = {});

// What FramedStreamReader::next() hands over, one record's worth at a time.
struct FramedItem {
  enum class Kind : std::uint8_t {
    envelope,  // an envelope record (a stream may have several; they merge in order)
    section,   // a section; its chunked arrays are empty, their elements follow as chunks
    chunk,     // elements of the last section's chunked array `member`, from index `first`
    end,       // the end record: nothing follows
  };
  Kind kind = Kind::end;
  Struct envelope;
  Section section;
  SectionProvenance provenance;
  std::uint32_t member = 0;
  std::uint64_t first = 0;
  std::vector<Value> items;
};

// Section-at-a-time reading from a source that need not be complete (a pipe,
// a socket), through a window of at most FramedDecodeOptions::max_buffer
// bytes. Every record's CRC is checked before anything of it is handed over.
class FramedStreamReader {
 public:
  FramedStreamReader(ByteSource& source, const FramedDecodeOptions& opt = {});
  ~FramedStreamReader();
  FramedStreamReader(const FramedStreamReader&) = delete;
  FramedStreamReader& operator=(const FramedStreamReader&) = delete;

  // Reads up to the header record if next() has not yet.
  [[nodiscard]] Result<const FramedHeader*> header();
  // The next item; nullopt after the end record.
  [[nodiscard]] Result<std::optional<FramedItem>> next();
  // What was skipped by policy so far, and why.
  const std::vector<std::string>& skipped() const;
  std::uint64_t offset() const;
  std::size_t buffer_high_water() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// True if the bytes start with the framed format's magic.
bool is_framed(ByteSpan bytes) noexcept;

}  // namespace statewire
