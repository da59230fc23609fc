// Fuzz target: the framed codec reader. Whatever decodes must re-encode and
// decode to the same stream.
#include <cstdlib>

#include "statewire/framed.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  FramedDecodeOptions opt;
  opt.limits.max_elements = 1 << 16;
  opt.limits.max_blob = 1 << 24;
  auto r = decode_framed(ByteSpan(data, size), opt);
  if (!r) return 0;
  FramedEncodeOptions enc;
  enc.header = r->header;
  auto bytes = encode_framed(r->stream, enc);
  if (!bytes) std::abort();
  auto again = decode_framed(*bytes, opt);
  if (!again || !(again->stream == r->stream)) std::abort();
  return 0;
}
