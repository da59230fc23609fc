// Whole-file reading and writing for the CLI, reported as statewire Errors.
#pragma once

#include <string>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"

namespace statewire::cli {

[[nodiscard]] Result<std::string> read_text_file(const std::string& path);
[[nodiscard]] Result<Bytes> read_binary_file(const std::string& path);
// `path` "-" writes standard output.
[[nodiscard]] Result<void> write_file(const std::string& path, std::string_view data);

}  // namespace statewire::cli
