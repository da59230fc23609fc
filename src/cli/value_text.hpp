// Values as the operator commands (show, diff, set) print them: integers in
// hex with the decimal beside, short blobs as hex bytes, leaves one per line.
#pragma once

#include <string>

#include "statewire/value.hpp"

namespace statewire::cli {

std::string value_text(const Value& v);
// One "path = value" line per leaf below `v` (arrays element by element,
// structs member by member, subsections by name), each prefixed by `indent`.
void leaf_lines(std::string& out, const std::string& path, const Value& v, const std::string& indent);
void leaf_lines(std::string& out, const std::string& path, const Struct& s, const std::string& indent);

}  // namespace statewire::cli
