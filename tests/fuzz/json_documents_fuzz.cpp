// Fuzz target: the JSON documents besides trees and schema dumps (capability
// answers and machine-type files), through the shared reader that checks
// nesting first. Each input is tried as both.
#include <string_view>

#include "statewire/capabilities.hpp"
#include "statewire/machine_types.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto caps = capabilities_from_json(text)) (void)to_json(*caps);
  (void)parse_machine_set_json(text);
  return 0;
}
