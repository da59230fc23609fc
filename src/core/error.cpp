#include "statewire/error.hpp"

#include <fmt/format.h>

#include "statewire/result.hpp"
#include "statewire/text.hpp"

namespace statewire {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::truncated: return "truncated";
    case Errc::limit_exceeded: return "limit_exceeded";
    case Errc::bad_magic: return "bad_magic";
    case Errc::unsupported: return "unsupported";
    case Errc::unknown_section: return "unknown_section";
    case Errc::unknown_subsection: return "unknown_subsection";
    case Errc::version_too_new: return "version_too_new";
    case Errc::version_too_old: return "version_too_old";
    case Errc::invalid_value: return "invalid_value";
    case Errc::mismatch: return "mismatch";
    case Errc::hook_failed: return "hook_failed";
    case Errc::schema_invalid: return "schema_invalid";
    case Errc::io_error: return "io_error";
    case Errc::not_found: return "not_found";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string out;
  if (!section.empty()) out += section + ": ";
  if (!field_path.empty()) out += "field " + field_path + (offset ? " " : ": ");
  if (offset) out += fmt::format("at offset {:#x}: ", *offset);
  out += message;
  // Names in errors come from the input: never hand a terminal raw control bytes.
  return printable(out);
}

Error& Error::in_section(std::string_view name) {
  if (section.empty()) section = std::string(name);
  return *this;
}

Error& Error::in_field(std::string_view name) {
  if (name.empty()) return *this;
  if (field_path.empty())
    field_path = std::string(name);
  else if (field_path.front() == '[')
    field_path = std::string(name) + field_path;
  else
    field_path = std::string(name) + "." + field_path;
  return *this;
}

Error& Error::at(std::uint64_t byte_offset) {
  if (!offset) offset = byte_offset;
  return *this;
}

Error make_error(Errc code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return e;
}

namespace detail {

ErrorBox& ErrorBox::operator=(const ErrorBox& o) {
  if (this != &o) p_ = o.p_ ? std::make_unique<Error>(*o.p_) : nullptr;
  return *this;
}
ErrorBox& ErrorBox::operator=(ErrorBox&& o) noexcept {
  p_ = std::move(o.p_);
  return *this;
}
ErrorBox::~ErrorBox() = default;

}  // namespace detail

}  // namespace statewire
