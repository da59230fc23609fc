// Fuzz target: the lossless tree JSON reader. Whatever parses must survive
// to_json -> stream_from_json unchanged, and pass every other writer.
#include <cstdlib>
#include <string_view>

#include "fuzz_writers.hpp"
#include "statewire/tree_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  auto r = stream_from_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!r) return 0;
  fuzz::check_writers(*r);
  return 0;
}
