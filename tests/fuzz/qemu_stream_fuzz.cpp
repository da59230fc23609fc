// Fuzz target: the whole QEMU stream decoder (framing, configuration, RAM
// records, trailer-driven device decoding) and analyze's state JSON. Whatever
// decodes must re-encode to exactly the input, and pass every other writer.
#include <algorithm>
#include <cstdlib>

#include "fuzz_writers.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/qemu_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  ByteSpan in(data, size);
  qemu::AnalyzeOptions opt;
  opt.state_json = true;
  (void)qemu::analyze_qemu_stream(in, opt);
  auto tree = qemu::decode_qemu_stream(in);
  if (!tree) return 0;
  auto out = qemu::encode_qemu_stream(*tree);
  if (!out || out->size() != size || !std::equal(out->begin(), out->end(), data)) std::abort();
  fuzz::check_writers(*tree);
  return 0;
}
