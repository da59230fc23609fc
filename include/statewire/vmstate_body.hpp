// statewire/vmstate_body.hpp — QEMU's VMState body encoding, driven by a Description.
//
// Wire layout (QEMU savevm v3, migration/vmstate.c): a body is each present
// field in declaration order with no tags, lengths or padding, integers
// big-endian, then the subsections that were sent:
//   u8 0x05, u8 name_len, name, be32 version_id, body
// A field is present iff its test holds (test-gated fields) or else iff
// field.version_id <= the body's version. Arrays are elements back to back;
// QTAILQ/QLIST lists put 0x01 before each element and 0x00 after the last; a
// NULL element of an array of pointers is the byte 0x30. A nested struct is the
// nested description's body, decoded with the nested description's own version
// (it is not on the wire). statewire's own `string` kind is be32 length + bytes.
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

// Decodes a `custom` field (a QEMU VMStateInfo whose encoding is code-defined),
// keyed by Field::info. Returns the value the tree keeps for it.
using CustomDecoder = std::function<Result<Value>(const Field&, Cursor&)>;
using CustomDecoders = std::map<std::string, CustomDecoder, std::less<>>;

struct BodyDecodeOptions {
  Limits limits;
  // Charged for every value decoded; null: a budget of its own per call,
  // granted the bytes the cursor holds.
  Budget* budget = nullptr;
  const TestResolver* tests = nullptr;
  const CustomDecoders* custom = nullptr;
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
