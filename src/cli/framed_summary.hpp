// `statewire analyze` on a framed file: the producer, machine type and
// capabilities from its header, then each section with its version, size and
// the fingerprint of the schema that wrote it (which schema versions can read
// the file), in text or JSON.
#pragma once

#include <string>

#include "statewire/byte_source.hpp"
#include "statewire/cursor.hpp"

namespace statewire::cli {

void print_framed_summary(ByteSpan bytes, const std::string& format);
// The same from a pipe or standard input, a record at a time (bounded memory).
void print_framed_summary(ByteSource& source, const std::string& format);

}  // namespace statewire::cli
