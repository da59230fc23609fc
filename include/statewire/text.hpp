// statewire/text.hpp — names from untrusted input, checked and made safe to show.
//
// Section, field and RAM block names come from the wire and may hold any
// byte. JSON needs valid UTF-8, and a terminal must not receive control
// sequences or line breaks from a stream. This header only inspects and
// escapes text; it knows no format.
#pragma once

#include <string>
#include <string_view>

namespace statewire {

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// `s` with control characters, DEL and bytes that are not valid UTF-8
// written as \xNN, so a name from a stream prints as one harmless line.
// Valid text without control characters is returned unchanged.
std::string printable(std::string_view s);

}  // namespace statewire
