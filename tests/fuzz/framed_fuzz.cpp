// Fuzz target: the framed codec reader. Whatever decodes must re-encode and
// decode to the same stream, and pass every other writer. Each input is tried twice: as it is, and with
// every record's CRC recomputed, so mutations reach the parsers behind the
// checksum instead of stopping at it.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/crc32c.hpp"
#include "fuzz_writers.hpp"
#include "statewire/framed.hpp"

namespace {

using namespace statewire;

void check(ByteSpan in) {
  // The CLI's limits (the defaults): what fuzzing proves is what users run.
  FramedDecodeOptions opt;
  auto r = decode_framed(in, opt);
  if (!r) return;
  FramedEncodeOptions enc;
  enc.header = r->header;
  auto bytes = encode_framed(r->stream, enc);
  if (!bytes) std::abort();
  auto again = decode_framed(*bytes, opt);
  if (!again || !(again->stream == r->stream)) std::abort();
  fuzz::check_writers(r->stream);
}

std::vector<std::uint8_t> with_fixed_crcs(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> b(data, data + size);
  std::size_t at = 10;  // magic + version
  while (at + 6 <= b.size()) {
    std::uint32_t len;
    std::memcpy(&len, b.data() + at + 2, 4);
    if (len > b.size() - at - 6 || b.size() - at - 6 - len < 4) break;
    std::uint32_t crc = detail::crc32c(0, b.data() + at, 6 + len);
    std::memcpy(b.data() + at + 6 + len, &crc, 4);
    at += 6 + std::size_t{len} + 4;
  }
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(ByteSpan(data, size));
  auto fixed = with_fixed_crcs(data, size);
  check(fixed);
  return 0;
}
