// statewire/value.hpp — the state tree: the one data model between the layers.
//
// A StateStream is an ordered list of sections; each section body is a Struct of
// named members in wire order plus the subsections that were sent. Scalars keep
// their exact width and signedness, so a tree re-encodes to the same bytes. The
// tree knows nothing about any wire format; codecs and descriptions produce and
// consume it. Names inside a Struct need not be unique (QEMU repeats "unused").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace statewire {

struct Value;
struct Member;
struct SubsectionState;

// The element of an array of pointers that was NULL (QEMU writes a marker byte).
struct Null {
  friend bool operator==(const Null&, const Null&) = default;
};

// Raw bytes: buffers, unused padding, and sections no schema explains.
struct Blob {
  std::vector<std::uint8_t> bytes;
  friend bool operator==(const Blob&, const Blob&) = default;
};

// How an array sits on the wire. `plain`: elements back to back. `marker_list`:
// QEMU's QTAILQ/QLIST encoding (0x01 before each element, 0x00 after the last).
// `gtree`: QEMU's GTree (be32 node count, then as marker_list); each item is a
// Struct of a `key` (u64 for a direct key, else a Struct) and a `value`.
enum class ArrayLayout : std::uint8_t { plain, marker_list, gtree };

struct Array {
  ArrayLayout layout = ArrayLayout::plain;
  std::vector<Value> items;
  // marker_list and gtree: the byte before each item, kept when one was not 0x01
  // (QEMU's loader continues a list on any non-zero byte), so the list
  // re-encodes to the bytes it came from. Empty: every marker is 0x01.
  std::vector<std::uint8_t> markers;
  friend bool operator==(const Array&, const Array&);
};

struct Struct {
  std::vector<Member> members;
  std::vector<SubsectionState> subsections;

  // First member with this name, or nullptr.
  const Value* find(std::string_view name) const;
  Value* find(std::string_view name);
  friend bool operator==(const Struct&, const Struct&);
};

enum class ValueKind : std::uint8_t {
  null, u8, u16, u32, u64, i8, i16, i32, i64, boolean, f64, blob, string, array, structure
};

std::string_view kind_name(ValueKind k) noexcept;

struct Value {
  using Variant = std::variant<Null, std::uint8_t, std::uint16_t, std::uint32_t, std::uint64_t,
                               std::int8_t, std::int16_t, std::int32_t, std::int64_t, bool,
                               double, Blob, std::string, Array, Struct>;
  Variant v;

  Value() = default;
  template <class T, class = std::enable_if_t<std::is_constructible_v<Variant, T&&> &&
                                              !std::is_same_v<std::decay_t<T>, Value>>>
  Value(T&& x) : v(std::forward<T>(x)) {}  // NOLINT: implicit by design

  ValueKind kind() const noexcept { return static_cast<ValueKind>(v.index()); }
  template <class T>
  const T* get_if() const noexcept { return std::get_if<T>(&v); }
  template <class T>
  T* get_if() noexcept { return std::get_if<T>(&v); }

  bool is_integer() const noexcept;
  // Integer value widened; false if not an integer (bool counts as integer 0/1).
  bool as_u64(std::uint64_t& out) const noexcept;
  // Wire width of a scalar (1/2/4/8), 0 for everything else.
  std::size_t scalar_width() const noexcept;

  // Integer values compare by kind and value; f64 compares bit patterns, so a
  // NaN equals itself and -0.0 differs from 0.0 (round trips are bit-exact).
  friend bool operator==(const Value&, const Value&);
};

struct Member {
  std::string name;
  Value value;
  friend bool operator==(const Member&, const Member&) = default;
};

struct SubsectionState {
  std::string name;  // full subsection name, "serial/fifo"
  std::uint32_t version_id = 0;
  Struct body;
  friend bool operator==(const SubsectionState&, const SubsectionState&) = default;
};

// One section of a stream. `section_id` and `kind` exist for formats that
// split a section into several records (QEMU's START/PART/END); formats and
// programs that do not, leave the defaults.
enum class SectionKind : std::uint8_t { full, start, part, end };

struct Section {
  SectionKind kind = SectionKind::full;
  std::uint32_t section_id = 0;
  std::string name;  // idstr
  std::uint32_t instance_id = 0;
  std::uint32_t version_id = 0;
  Struct body;

  std::string label() const;  // "name/instance"
  friend bool operator==(const Section&, const Section&) = default;
};

struct StateStream {
  std::vector<Section> sections;
  // Stream-level records a wire format carries besides its sections (QEMU:
  // header version, configuration, commands, footer mode, description trailer),
  // so a stream converted between codecs keeps them. Empty for formats that
  // have none; each codec reads only the members it wrote.
  Struct envelope;
  friend bool operator==(const StateStream&, const StateStream&) = default;
};

// Human-readable, indented rendering (for `statewire demo`, logs, test failures).
std::string to_text(const Value& v);
std::string to_text(const Struct& s);
std::string to_text(const Section& s);
std::string to_text(const StateStream& s);

}  // namespace statewire
