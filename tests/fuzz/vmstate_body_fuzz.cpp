// Fuzz target: VMState body decoding against a fixed description. Whatever
// decodes must re-encode to exactly the bytes it consumed. Which elements of
// the array of pointers are NULL is the destination's to say: here bit k of
// the decoded `u8` says element k is (so both readings get exercised).
#include <cstdlib>

#include "fuzz_schemas.hpp"
#include "statewire/vmstate_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  static const Description d = fuzz::fuzz_description();
  Cursor cur(ByteSpan(data, size));
  std::uint32_t version = size ? 1 + (data[0] & 1) : 1;
  static const PointerResolver pointers = {
      {pointer_key("fz", "ptrs"), [](const Struct& partial, std::uint64_t k) -> std::optional<bool> {
         std::uint64_t bits = 0;
         const Value* v = partial.find("u8");
         if (!v || !v->as_u64(bits)) return std::nullopt;
         return ((bits >> k) & 1) != 0;
       }}};
  BodyDecodeOptions opt;  // the CLI's limits (the defaults)
  opt.pointers = &pointers;
  auto r = decode_body(d, cur, version, opt);
  if (!r) return 0;
  ByteWriter w;
  if (!encode_body(*r, w)) std::abort();
  std::size_t used = size - cur.remaining();
  if (w.size() != used || !std::equal(w.bytes().begin(), w.bytes().end(), data)) std::abort();
  return 0;
}
