// statewire/state_path.hpp — values of a state tree by a path that does not
// depend on section ids, for reading and editing (`statewire show`, `set`).
//
//   cpu[0].env.regs[0]     device "cpu", instance 0, member "env.regs", element 0
//   serial.divider         the only "serial" section; "divider" found inside "state"
//   0000:00:01.1/ide.bmdma[1].cmd   a full idstr works too
//   rtc.mc146818rtc/irq_reinject_on_ack_count.irq_reinject_on_ack_count
//
// The device is a section's idstr or its part after the last '/' (the vmsd
// name), `[N]` picks the instance (needed only when several exist). Member
// names may themselves hold dots (QEMU's descriptions say "env.regs"): at
// each step the longest member name that matches wins. A name that is not a
// member is looked for in nested structs and subsections, and accepted when
// exactly one matches. RAM sections have no values here. Nothing throws.
#pragma once

#include <string>
#include <string_view>

#include "statewire/result.hpp"
#include "statewire/value.hpp"

namespace statewire {

struct ValueRef {
  Value* value = nullptr;    // null when the path names a section or subsection
  Struct* body = nullptr;    // then: its body
  std::string section;  // "cpu/0"
  std::string path;     // the full path within the section, as resolved ("env.regs[0]")
};

[[nodiscard]] Result<ValueRef> find_value(StateStream& stream, std::string_view path);

// Sets an integer, bool, or a blob of up to 8 bytes (QEMU's byte order:
// big-endian) from decimal, "0x" hex, or for signed kinds a negative number;
// refuses values that do not fit the field's width, naming it.
[[nodiscard]] Result<void> set_scalar(Value& v, std::string_view text);

// Any value a path can name, from text; nothing changes unless all of it fits:
//   integers and bools  as set_scalar;
//   blobs (buffers)     hex of exactly the field's size ("0x0102...", "52:54:00:12:34:56",
//                       "01 02 ..."); up to 8 bytes also a number, as set_scalar;
//   strings             the text, or "..." with \\, \" and \xNN escapes;
//   doubles             decimal (or C hex float);
//   arrays              "[a, b, ...]" with exactly the array's length (elements by these
//                       same rules, nested arrays in brackets); arrays of bytes also hex;
//   structs, NULLs      refused (set members one by one).
// Errors name the element ("element [3]: 300 does not fit u8").
[[nodiscard]] Result<void> set_value(Value& v, std::string_view text);

}  // namespace statewire
