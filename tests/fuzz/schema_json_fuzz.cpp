// Fuzz target: the schema dump reader. Whatever parses must export (extended)
// and parse back to an equal schema; QEMU's plain shape drops statewire's keys,
// so it need only parse back.
#include <cstdlib>
#include <string_view>

#include "statewire/schema_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  auto r = parse_schema_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!r) return 0;
  auto again = parse_schema_json(to_schema_json(*r, SchemaJsonOptions{true}));
  if (!again || !(*again == *r)) std::abort();
  if (!parse_schema_json(to_schema_json(*r))) std::abort();
  return 0;
}
