// statewire/vmstate_body.hpp — QEMU's VMState body encoding, driven by a Description.
//
// Wire layout (QEMU savevm v3, migration/vmstate.c): a body is each present
// field in declaration order with no tags, lengths or padding, integers
// big-endian, then the subsections that were sent:
//   u8 0x05, u8 name_len, name, be32 version_id, body
// A field is present iff its test holds (test-gated fields) or else iff
// field.version_id <= the body's version. Arrays are elements back to back;
// QTAILQ/QLIST lists put 0x01 before each element and 0x00 after the last (a
// reader continues on any non-zero byte); a GTree is a be32 node count, then
// per node 0x01, the key (be64 for a direct key, else the key description's
// body) and the value, then 0x00, and the count must match the nodes; a NULL
// element of an array of
// pointers is the byte 0x30. A bool is one byte, written 0/1, read as
// "non-zero is true". A nested struct is the nested description's body,
// decoded with the nested description's own version, or the field's
// struct_version (VSTRUCT); neither is on the wire. statewire's own `string`
// kind is be32 length + bytes.
//
// Decoding as QEMU's loader does. Two things the bytes alone cannot say are
// asked of the caller, never guessed: whether a test-gated field is present
// (QEMU runs the predicate on the destination object), and whether an element
// of an array of pointers is NULL (QEMU reads the 0x30 marker exactly when the
// destination's pointer is NULL; a non-NULL element may itself start with
// 0x30). Where no resolver (nor, for pointers, the stream's own description)
// decides, decoding fails with Errc::unsupported naming the field. A native
// description's test_resolver(dest) / pointer_resolver(dest) give the reading
// load(dest, bytes) gives. Bytes QEMU accepts but never writes (a bool byte
// 2..255, a list marker 2..255) are kept in the tree (the bool as its u8 byte,
// the markers in Array::markers) so the tree re-encodes to the same bytes.
//
// decode_body() turns bytes into a Struct; encode_body() needs no schema: the
// tree holds every wire byte, so a decoded tree re-encodes to the same bytes.
// This file knows nothing of section headers or footers (that is the codec's).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "statewire/cursor.hpp"
#include "statewire/limits.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"

namespace statewire {

inline constexpr std::uint8_t kSubsectionMarker = 0x05;
inline constexpr std::uint8_t kNullPointerMarker = 0x30;

// Decides a test-gated field when decoding without the program's objects: gets
// the members decoded so far and the body version; nullopt means "cannot tell".
using TestPredicate =
    std::function<std::optional<bool>(const Struct& partial, std::uint32_t version)>;
using TestResolver = std::map<std::string, TestPredicate, std::less<>>;

// Decides whether element `index` of an array of pointers is NULL on the
// destination; gets the members decoded so far. nullopt: cannot tell. Looked
// up first by the instance's path from the body being decoded (or from the
// subsection it is in): "<root>.<field>", "<root>.one.slots" (a struct or a
// pointer to one), "<root>.ring[2].slots" (an element of an array of structs
// or of a list), "<root>.tree[0].value.slots" (a GTree node). Then by
// "<description name>.<field name>" (pointer_key()), which decides every
// instance of that description alike.
using PointerPredicate =
    std::function<std::optional<bool>(const Struct& partial, std::uint64_t index)>;
using PointerResolver = std::map<std::string, PointerPredicate, std::less<>>;
std::string pointer_key(std::string_view description, std::string_view field);

// What a custom decoder may read besides the bytes, as QEMU's VMStateInfo
// get() sees the object being loaded.
struct CustomContext {
  const Description& description;  // holding the field
  std::uint32_t version;           // that body's version
  const Struct& partial;           // its members decoded so far
  std::string_view section;        // BodyDecodeOptions::section
  const Limits& limits;
  Budget& budget;                  // charge what the decoder builds
};

// Decodes a `custom` field (a QEMU VMStateInfo whose encoding is code-defined),
// keyed by Field::info. Returns the value the tree keeps for it, which must
// re-encode (encode_value) to the bytes it consumed. Built-in ones for QEMU
// streams: qemu_virtio.hpp.
using CustomDecoder = std::function<Result<Value>(const Field&, Cursor&, const CustomContext&)>;
using CustomDecoders = std::map<std::string, CustomDecoder, std::less<>>;

struct BodyDecodeOptions {
  Limits limits;
  // Charged for every value decoded; null: a budget of its own per call,
  // granted the bytes the cursor holds.
  Budget* budget = nullptr;
  const TestResolver* tests = nullptr;
  const PointerResolver* pointers = nullptr;
  const CustomDecoders* custom = nullptr;
  // The section's idstr when known ("0000:00:03.0/virtio-net"): custom
  // decoders read what QEMU's device path tells, such as a virtio transport.
  std::string_view section;
};

// Checks an incoming version against a description's range; the error names
// the description and says which bound was crossed.
[[nodiscard]] Result<void> check_version(const Description& d, std::uint32_t incoming);

// Decodes one body of `d` at `version` (checks the version range first).
[[nodiscard]] Result<Struct> decode_body(const Description& d, Cursor& cur,
                                         std::uint32_t version,
                                         const BodyDecodeOptions& opt = {});

// Appends the VMState encoding of a tree body (fields, then subsections).
// Fails only for trees no stream can hold (a subsection name over 255 bytes).
[[nodiscard]] Result<void> encode_body(const Struct& body, ByteWriter& out);
[[nodiscard]] Result<void> encode_value(const Value& v, ByteWriter& out);

}  // namespace statewire
