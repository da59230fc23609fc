// statewire/error.hpp — the one error type of the library.
//
// Every fallible function returns Result<T> (see result.hpp) carrying an Error:
// a closed code plus *where* it happened (byte offset, section, field path) so a
// user can act on it. The library never throws for bad input; only the CLI turns
// an Error into a message and an exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace statewire {

enum class Errc : std::uint8_t {
  truncated,           // input ended before a value was complete
  limit_exceeded,      // a size, count, depth or memory budget passed a Limits bound
  bad_magic,           // not the format we were asked to read
  unsupported,         // valid input using a feature this build cannot handle
  unknown_section,     // the receiver has no description for a section
  unknown_subsection,  // a subsection the receiver does not know
  version_too_new,     // incoming version above the local version_id
  version_too_old,     // incoming version below the local minimum_version_id
  invalid_value,       // a value that is out of range or inconsistent
  mismatch,            // two things that must agree do not (footer id, tree shape)
  hook_failed,         // a pre/post save/load hook refused
  schema_invalid,      // a description or schema file is malformed
  io_error,            // reading or writing a file failed
  not_found,           // a named thing (field, section, file) does not exist
};

std::string_view errc_name(Errc code) noexcept;

struct Error {
  Errc code = Errc::invalid_value;
  std::string message;                  // expected vs found
  std::optional<std::uint64_t> offset;  // byte offset, when decoding
  std::string section;                  // "serial/0" (name/instance)
  std::string field_path;               // "state.divider", "regs[3]"

  // One line: "serial/0: field state.divider at offset 0x1a2f: need 2 bytes, 1 left".
  std::string to_string() const;

  // Builders that fill in context as an error travels outwards. An inner
  // field is prefixed ("state" + "divider" -> "state.divider").
  Error& in_section(std::string_view name);
  Error& in_field(std::string_view name);
  Error& at(std::uint64_t byte_offset);
};

Error make_error(Errc code, std::string message);

}  // namespace statewire
