// statewire/qemu_stream.hpp — QEMU's migration stream (savevm format v3), byte for byte.
//
// Wire layout (all integers big-endian; facts in docs/qemu-stream.md):
//   be32 "QEVM", be32 3, [u8 0x07 configuration body],
//   records: 0x01 START / 0x04 FULL: be32 section_id, u8 len + idstr, be32 instance_id,
//            be32 version_id, body, [0x7E be32 section_id]
//            0x02 PART / 0x03 END: be32 section_id, body, [footer]
//            0x08 COMMAND: be16 cmd, be16 len, len bytes
//   0x00 EOF, [0x06 be32 len + JSON description trailer]
// The `ram` section bodies are page records (be64 offset|flags, optional block
// name, payload) ending with EOS; every other body is a VMState body.
//
// Two ways in: decode_qemu_stream() builds a whole StateStream (RAM pages
// included, for convert), and scan_qemu_stream() walks the stream with a
// visitor and never holds more than one section (for analyze, any size).
// encode_qemu_stream() writes a StateStream back; a decoded stream re-encodes
// to identical bytes. The stream-level records (header version, configuration,
// commands, footer mode, trailer) travel in StateStream::envelope, so another
// codec can carry a QEMU stream losslessly. This header knows no CLI or files.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/byte_source.hpp"
#include "statewire/cursor.hpp"
#include "statewire/limits.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire::qemu {

namespace detail {
struct Trailer;  // the parsed description trailer (src/codec/qemu/trailer.hpp)
}

inline constexpr std::uint32_t kFileMagic = 0x5145564D;  // "QEVM"
inline constexpr std::uint32_t kFileVersion = 3;

// Top-level record types (migration/savevm.h).
enum class RecordType : std::uint8_t {
  eof = 0x00,
  section_start = 0x01,
  section_part = 0x02,
  section_end = 0x03,
  section_full = 0x04,
  subsection = 0x05,
  vmdescription = 0x06,
  configuration = 0x07,
  command = 0x08,
  section_footer = 0x7E,
};

// RAM record flags, in the low bits of each record's be64 word (migration/ram.c).
inline constexpr std::uint16_t kRamFull = 0x01;
inline constexpr std::uint16_t kRamZero = 0x02;
inline constexpr std::uint16_t kRamMemSize = 0x04;
inline constexpr std::uint16_t kRamPage = 0x08;
inline constexpr std::uint16_t kRamEos = 0x10;
inline constexpr std::uint16_t kRamContinue = 0x20;
inline constexpr std::uint16_t kRamXbzrle = 0x40;
inline constexpr std::uint16_t kRamHook = 0x80;
inline constexpr std::uint16_t kRamCompressPage = 0x100;
inline constexpr std::uint16_t kRamMultifdFlush = 0x200;

// Which schema explained a section's body.
enum class SchemaSource : std::uint8_t {
  trailer,     // the stream's own JSON description trailer
  dump,        // a -dump-vmstate JSON given by the caller, length confirmed by the footer
  registered,  // a Description registered in C++ (QemuDecodeOptions::registered)
  ram,         // the built-in RAM record decoder
  opaque,      // nothing explained it: the body is kept as bytes
};
std::string_view schema_source_name(SchemaSource s) noexcept;

struct QemuDecodeOptions {
  // Sources tried for device sections, in this order; trailer is skipped when
  // the stream has none, dump when `dump` is null, registered when empty.
  std::vector<SchemaSource> schema_order{SchemaSource::trailer, SchemaSource::dump,
                                         SchemaSource::registered};
  const SchemaSet* dump = nullptr;
  // Descriptions registered in C++, matched by vmsd name (idstr after its last '/').
  std::vector<std::shared_ptr<const Description>> registered;
  // false: device bodies are located but not decoded into trees (fast scan).
  bool decode_devices = true;
  // A decoded body must re-encode to exactly its bytes, else it is kept opaque.
  bool verify_reencode = true;
  // Fields of a code-defined VMStateInfo statewire knows (qemu_virtio.hpp:
  // "virtio") are decoded into trees; one it refuses is kept as bytes, and
  // the section's note says why. false: all such fields are kept as bytes.
  bool custom_infos = true;
  // RAM block list extras QEMU only sends with some capabilities (postcopy-ram
  // with hugepages: be64 page_size; x-ignore-shared: be64 GPA); the stream
  // cannot say, so the caller does.
  bool ram_block_page_size = false;
  bool ram_ignore_shared = false;
  Limits limits;
  // The memory budget the decode charges for what it builds (shared with a
  // caller that decodes more around it); null: one of its own, granted the
  // input's size.
  Budget* budget = nullptr;
  // Optional: fills `dst` with the input's bytes at `offset` (the same bytes
  // as the span, e.g. pread on the file behind a mapping) and returns how
  // many it read. RAM records are then parsed from a reused 1 MiB buffer
  // instead of through the span: on a mapped file every page header sits in a
  // new memory page and costs a TLB miss (measured: ~1.5 us per page in a VM),
  // while read() copies through the kernel's huge-page mapping.
  std::function<Result<std::size_t>(std::uint64_t offset, std::span<std::uint8_t> dst)> bulk_read;
  // The most input a reader holds at once (QemuStreamReader): a RAM record,
  // a device section with what follows it, or, from a pipe, the rest of the
  // stream from the first device section on while it looks for the trailer
  // (QEMU sends device state last, a few MiB at most). A section that needs
  // more is an error naming it; a pipe whose trailer lies further ahead is
  // decoded without it.
  std::size_t max_buffer = 64u << 20;
};

// The header of one section record as read from the wire. For PART/END,
// `idstr`, `instance_id` and `version_id` are those of the START they continue.
struct SectionHeader {
  SectionKind kind = SectionKind::full;
  std::uint32_t section_id = 0;
  std::string idstr;
  std::uint32_t instance_id = 0;
  std::uint32_t version_id = 0;
  std::uint64_t offset = 0;       // of the record type byte
  std::uint64_t body_offset = 0;  // first body byte
};

// One RAM record, handed to a visitor while the bytes are still in view.
struct RamRecord {
  std::uint64_t stream_offset = 0;  // of the record word
  std::uint64_t addr = 0;           // offset part of the word (byte offset in the block)
  std::uint16_t flags = 0;          // flag part of the word
  bool named = false;               // the block name was on the wire (no CONTINUE)
  const std::string* block = nullptr;  // current block (null for MEM_SIZE/EOS)
  std::uint64_t page_size = 4096;   // target page size of the stream
  std::uint8_t fill = 0;            // ZERO: the fill byte
  ByteSpan data;                    // PAGE: the page bytes
};

struct RamBlock {
  std::string id;
  std::uint64_t used_length = 0;
  std::optional<std::uint64_t> page_size;  // only with ram_block_page_size
  std::optional<std::uint64_t> gpa;        // only with ram_ignore_shared
};

// What the scanner tells about a finished section.
struct SectionSummary {
  SectionHeader header;
  std::uint64_t body_size = 0;
  bool footer = false;
  SchemaSource source = SchemaSource::opaque;
  std::string note;  // why it is opaque, or which schema entry explained it
  // Set when a custom field's decoder (QemuDecodeOptions::custom_infos)
  // refused and the field was kept as bytes: the decoder's error.
  std::string kept_as_bytes;
};

// Receives a stream in wire order. Returning an error stops the scan.
class QemuStreamVisitor {
 public:
  virtual ~QemuStreamVisitor() = default;
  virtual Result<void> on_configuration(const Struct& /*body*/, std::uint64_t /*offset*/) {
    return {};
  }
  virtual Result<void> on_command(std::uint16_t /*cmd*/, ByteSpan /*data*/,
                                  std::uint64_t /*offset*/) {
    return {};
  }
  virtual Result<void> on_section_begin(const SectionHeader&) { return {}; }
  virtual Result<void> on_ram_blocks(std::uint64_t /*total*/, std::uint16_t /*flags*/,
                                     std::span<const RamBlock>) {
    return {};
  }
  virtual Result<void> on_ram_record(const RamRecord&) { return {}; }
  // A device section's body: `body` is the decoded tree (an "opaque" blob
  // member when nothing explained it), `raw` its bytes on the wire.
  virtual Result<void> on_device_body(const SectionHeader&, Struct&& /*body*/, ByteSpan /*raw*/,
                                      SchemaSource, const Description* /*schema*/) {
    return {};
  }
  virtual Result<void> on_section_end(const SectionSummary&) { return {}; }
  virtual Result<void> on_eof(std::uint64_t /*offset*/) { return {}; }
  virtual Result<void> on_trailer(std::string_view /*json*/, std::uint64_t /*offset*/) {
    return {};
  }
  // Something the scan worked around and went on (a description trailer that
  // is not valid JSON: QEMU's loader skips it unread, so device sections fall
  // back to the other schema sources). Returning an error stops the scan.
  virtual Result<void> on_warning(const Error& /*what*/) { return {}; }
  // Called once before the first record. `trailer` is the description
  // trailer, already located at the end of the input and parsed (null when
  // the stream has none); its type is internal to the library (analyze uses it).
  virtual Result<void> on_start(std::uint32_t /*version*/, const detail::Trailer* /*trailer*/) {
    return {};
  }
  // From a pipe the trailer cannot be read first: when the reader finds it
  // ahead (before the first device section that needs it), it says so here.
  virtual Result<void> on_description(const detail::Trailer& /*trailer*/) { return {}; }
};

// Section-at-a-time reading from a source that need not be complete (a pipe,
// a socket): each step() hands the visitor one piece as soon as its bytes
// have arrived — the stream header, one record (a device section, a command,
// EOF with the trailer), or inside a RAM section one RAM record — through a
// window of at most QemuDecodeOptions::max_buffer bytes. Views handed to the
// visitor (RAM page data, raw bodies) are valid until the next step.
class QemuStreamReader {
 public:
  QemuStreamReader(ByteSource& source, const QemuDecodeOptions& opt = {});
  ~QemuStreamReader();
  QemuStreamReader(const QemuStreamReader&) = delete;
  QemuStreamReader& operator=(const QemuStreamReader&) = delete;

  // false once the stream has ended (after EOF and the trailer).
  [[nodiscard]] Result<bool> step(QemuStreamVisitor& visitor);
  // Steps to the end.
  [[nodiscard]] Result<void> run(QemuStreamVisitor& visitor);
  // Input consumed so far.
  std::uint64_t offset() const;
  // The most memory the window ever held, within max_buffer.
  // Bytes taken from the source so far (at least offset()): a stream that
  // stops on damage has been read this far.
  std::uint64_t bytes_seen() const;
  std::size_t buffer_high_water() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// scan_qemu_stream() over a source: a pipe, a socket, a file descriptor.
[[nodiscard]] Result<void> scan_qemu_stream(ByteSource& source, QemuStreamVisitor& visitor,
                                            const QemuDecodeOptions& opt = {});

// Walks the whole stream; memory stays bounded by the largest device section
// (RAM pages are handed over as views into `bytes`).
[[nodiscard]] Result<void> scan_qemu_stream(ByteSpan bytes, QemuStreamVisitor& visitor,
                                            const QemuDecodeOptions& opt = {});

// The whole stream as a tree: sections in wire order (RAM bodies as page
// records), stream-level records in `envelope`.
[[nodiscard]] Result<StateStream> decode_qemu_stream(ByteSpan bytes,
                                                     const QemuDecodeOptions& opt = {});

// Writes a tree in QEMU's format. Bodies are written from the tree; a tree
// decoded by decode_qemu_stream gives the same bytes back.
[[nodiscard]] Result<Bytes> encode_qemu_stream(const StateStream& stream);

// Section-at-a-time writing of QEMU's format, to a sink (or, without one, to
// memory: take()). The envelope (StateStream::envelope, keys below) gives the
// header, the configuration, whether sections carry footers, the commands
// (each placed before the section its "before" names) and the trailer; more
// of it may follow later (envelope()) as long as no command in it belongs
// before a section already written. RAM sections may be written record by
// record (begin_section, ram_record..., end_section), so no whole RAM body is
// ever held. Output reaches the sink in pieces of about 1 MiB.
class QemuStreamWriter {
 public:
  explicit QemuStreamWriter(ByteSink* sink = nullptr);

  [[nodiscard]] Result<void> begin(const Struct& envelope);
  [[nodiscard]] Result<void> envelope(const Struct& more);
  // A whole section from its tree (RAM bodies as "records").
  [[nodiscard]] Result<void> section(const Section& s);
  // A section's header; its body follows as RAM records or, for others, is
  // not supported this way (use section()).
  [[nodiscard]] Result<void> begin_section(const Section& head);
  // One element of a RAM body's "records" (addr, flags, [block], [fill|data|blocks]).
  [[nodiscard]] Result<void> ram_record(const Value& record);
  [[nodiscard]] Result<void> end_section();
  // Remaining commands, EOF and the trailer; everything reaches the sink.
  [[nodiscard]] Result<void> finish();

  void reserve(std::size_t n) { w_.reserve(n); }
  Bytes take() && { return std::move(w_).take(); }

 private:
  struct Command {
    std::uint64_t before = 0;
    std::uint16_t cmd = 0;
    Bytes data;
  };
  Result<void> queue_commands(const Struct& env);
  Result<void> take_trailer(const Struct& env);
  void put_commands(std::uint64_t upto);
  Result<void> flush_if_big();
  Result<void> flush();

  ByteSink* sink_;
  ByteWriter w_;
  bool footers_ = true;
  std::vector<Command> commands_;
  std::size_t next_cmd_ = 0, commands_seen_ = 0;
  std::optional<std::string> trailer_;
  std::uint64_t sections_ = 0;
  std::uint32_t section_id_ = 0;
  std::size_t records_ = 0;
  std::string label_;
};

// One device entry of a stream's description trailer (QEMU_VM_VMDESCRIPTION):
// what that section's body holds, as QEMU recorded it when it wrote the body.
struct TrailerSection {
  std::string idstr;
  std::uint32_t instance_id = 0;
  std::shared_ptr<const Description> description;
};
// Parses trailer JSON text (the envelope's `vmdescription` member).
[[nodiscard]] Result<std::vector<TrailerSection>> parse_description_trailer(std::string_view json);

// After transforms changed sections, makes the envelope's description
// trailer describe what the stream now carries. Entries of the sections
// labelled in `changed` ("hpet/0") are rebuilt from their trees, keeping the
// old entry's type names where a member kept its name and size; entries of
// sections no longer in the stream go; new sections get entries. Written in
// QEMU's JSON spacing. No-op when the stream has no trailer.
[[nodiscard]] Result<void> rewrite_description_trailer(StateStream& stream,
                                                       const std::vector<std::string>& changed);

// Descriptions for sections -dump-vmstate never lists (timer, globalstate),
// as QEMU 7.2 declares them; a caller may add them to `registered`.
std::vector<std::shared_ptr<const Description>> builtin_qemu_descriptions();

// Names of the envelope members and RAM record members (for tools and tests).
namespace keys {
inline constexpr std::string_view kFormat = "format";          // string "qemu-savevm"
inline constexpr std::string_view kVersion = "version";        // u32
inline constexpr std::string_view kConfiguration = "configuration";  // struct (absent: none)
inline constexpr std::string_view kFooters = "section_footers";     // bool
inline constexpr std::string_view kCommands = "commands";      // array of {before, cmd, data}
inline constexpr std::string_view kTrailer = "vmdescription";  // string, raw JSON (absent: none)
inline constexpr std::string_view kOpaque = "opaque";          // member of an unexplained body
inline constexpr std::string_view kRamRecords = "records";     // member of a RAM body
}  // namespace keys

}  // namespace statewire::qemu
