// statewire/schema.hpp — what a section holds: Description, Field, Subsection.
//
// The same types describe a C++ program's own structs (built by describe.hpp),
// QEMU's -dump-vmstate JSON (which has sizes but no types) and a QEMU stream's
// own description trailer (which has types). Fields keep declaration order,
// which is wire order. A Description says nothing about how to encode; the
// VMState body codec (vmstate_body.hpp) and the other codecs read it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace statewire {

// What one element of a field is. QEMU's dump has no type information, so a
// field loaded from it is `opaque` (bytes of a known size) or `structure`.
enum class FieldKind : std::uint8_t {
  u8, u16, u32, u64, i8, i16, i32, i64,
  boolean,    // one byte, 0 or 1
  f64,        // IEEE double as be64 bits (QEMU's CPU_Double_U has the same bytes)
  buffer,     // raw bytes, `size` bytes per element
  unused,     // padding: zeros on save, skipped on load (VMSTATE_UNUSED)
  string,     // be32 length + bytes (statewire's own; QEMU has no string type)
  structure,  // a nested description's body
  opaque,     // unknown encoding of `size` bytes (dump-only fields)
  custom,     // code-defined encoding named by `info` ("pci config", "virtio")
};

std::string_view field_kind_name(FieldKind k) noexcept;
std::optional<FieldKind> field_kind_from_name(std::string_view name) noexcept;
// Wire width of a scalar kind (1/2/4/8), 0 for the others.
std::size_t scalar_width(FieldKind k) noexcept;
bool is_integer_kind(FieldKind k) noexcept;
bool is_signed_kind(FieldKind k) noexcept;

// How many elements a field has on the wire.
struct Count {
  enum class Mode : std::uint8_t {
    single,      // one element (a scalar, one buffer, one struct)
    fixed,       // `n` elements
    from_field,  // the value of an earlier integer field `field`, at most `max`
  };
  Mode mode = Mode::single;
  std::uint32_t n = 1;
  std::string field;
  std::uint32_t max = 0;

  static Count single() { return {}; }
  static Count fixed(std::uint32_t n) { return {Mode::fixed, n, {}, 0}; }
  static Count from(std::string field, std::uint32_t max) {
    return {Mode::from_field, 0, std::move(field), max};
  }
  friend bool operator==(const Count&, const Count&) = default;
};

struct Description;

struct Field {
  std::string name;
  FieldKind kind = FieldKind::opaque;
  std::string info;         // QEMU VMStateInfo name when known: "uint32", "timer", "pci config"
  std::uint64_t size = 0;   // QEMU's `size`: host size of one element (whole buffer for buffers)
  Count count;
  std::uint32_t version_id = 0;     // exists since this section version (0: always)
  std::optional<std::string> test;  // sent iff this predicate holds; "" = unnamed (dump)
  bool must_exist = false;          // absent on load is an error (VMS_MUST_EXIST)
  bool nullable = false;            // elements are pointers; NULL is a marker byte
  // Which elements were NULL, where the writer's own description says so (a
  // stream's trailer describes each element of some arrays separately). Else
  // the destination decides (BodyDecodeOptions::pointers).
  std::vector<bool> null_elements;
  // A nested struct read at this version instead of its own (QEMU's VSTRUCT).
  std::optional<std::uint32_t> struct_version;
  bool list = false;                // QTAILQ/QLIST: marker-delimited elements
  // GTree (QEMU's VMSTATE_GTREE_*): be32 node count, then per node a marker
  // byte, the key and the value (`nested`), then 0x00. `key`: the key's
  // description; null: a direct key, be64.
  bool gtree = false;
  std::shared_ptr<const Description> key;
  std::shared_ptr<const Description> nested;  // for `structure`
  std::optional<std::uint64_t> num;           // dump's optional "num" key (newer QEMUs)

  bool has_test() const noexcept { return test.has_value(); }
  // Bytes one element takes on the wire when that is fixed, else nullopt
  // (structures, strings, custom and list fields).
  std::optional<std::uint64_t> element_wire_size() const noexcept;
  friend bool operator==(const Field& a, const Field& b);
};

struct Subsection;

struct Description {
  std::string name;  // vmsd name: the section idstr (or its suffix) in streams
  std::uint32_t version_id = 0;
  std::uint32_t minimum_version_id = 0;
  // Absent and empty differ in QEMU's dumps, so both are kept.
  std::optional<std::vector<Field>> fields;
  std::optional<std::vector<Subsection>> subsections;

  const std::vector<Field>& field_list() const;
  const std::vector<Subsection>& subsection_list() const;
  const Field* find_field(std::string_view name) const;
  const Subsection* find_subsection(std::string_view name) const;
  friend bool operator==(const Description&, const Description&);
};

struct Subsection {
  Description description;
  std::string needed;  // name of the `needed` predicate; "" when unknown (dumps)
  friend bool operator==(const Subsection&, const Subsection&) = default;
};

// One device class of a schema dump: QEMU's top-level "<qom-type>" entry.
struct DeviceSchema {
  std::string key;   // the member key (QOM type)
  std::string name;  // "Name" (QEMU writes the key again)
  std::uint32_t version_id = 0;
  std::uint32_t minimum_version_id = 0;
  Description description;
  friend bool operator==(const DeviceSchema&, const DeviceSchema&) = default;
};

// A whole schema dump: QEMU -dump-vmstate output or statewire's own export.
struct SchemaSet {
  std::optional<std::string> machine;  // "vmschkmachine".Name
  std::vector<DeviceSchema> devices;   // file order

  const DeviceSchema* find_device(std::string_view key) const;
  // A device whose top-level description has this vmsd name (stream idstr
  // suffix). Several QOM types may share one; the first is returned.
  const Description* find_description(std::string_view vmsd_name) const;
  friend bool operator==(const SchemaSet&, const SchemaSet&) = default;
};

// A 64-bit fingerprint (FNV-1a) of a description's full extended JSON: equal
// descriptions give equal fingerprints, so a stream can record which schema
// wrote each section and a reader can tell which schemas match.
std::uint64_t schema_fingerprint(const Description& d);

struct SchemaStats {
  std::size_t descriptions = 0;  // all depths
  std::size_t fields = 0;        // all depths
  std::size_t subsections = 0;   // all depths
  std::size_t max_depth = 0;
};
SchemaStats stats(const Description& d);
SchemaStats stats(const SchemaSet& s);

}  // namespace statewire
