// Whole-file reading and writing for the CLI, reported as statewire Errors.
#pragma once

#include <string>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"

namespace statewire::cli {

// `path` "-" reads standard input (here and in read_schema_dump).
[[nodiscard]] Result<std::string> read_text_file(const std::string& path);
// A QEMU -dump-vmstate file (or statewire's extended export).
[[nodiscard]] Result<SchemaSet> read_schema_dump(const std::string& path);
[[nodiscard]] Result<Bytes> read_binary_file(const std::string& path);
// `path` "-" writes standard output.
[[nodiscard]] Result<void> write_file(const std::string& path, std::string_view data);

}  // namespace statewire::cli
