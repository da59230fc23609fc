#include "cli/io.hpp"

#include "statewire/schema_json.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace statewire::cli {

Result<std::string> read_text_file(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    if (std::cin.bad()) return fail(Errc::io_error, "cannot read standard input");
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io_error, fmt::format("cannot open {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<Bytes> read_binary_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io_error, fmt::format("cannot open {}", path));
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Result<SchemaSet> read_schema_dump(const std::string& path) {
  if (path != "-") return load_schema_file(path);
  SW_TRY(text, read_text_file(path));
  auto set = parse_schema_json(text);
  if (!set) set.error().section = "standard input";
  return set;
}

Result<void> write_file(const std::string& path, std::string_view data) {
  if (path == "-") {
    if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0)
      return fail(Errc::io_error, "cannot write standard output");
    return {};
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return fail(Errc::io_error, fmt::format("cannot create {}", path));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) return fail(Errc::io_error, fmt::format("cannot write {}", path));
  return {};
}

}  // namespace statewire::cli
