// Fuzz target: loading a native description from hostile bytes. Whatever the
// native loader accepts, the schema-driven decoder (decode_body with the
// description's schema and test resolver) must accept too, with a tree that
// re-encodes to exactly the bytes consumed and loads (from_tree) into the
// same object; the object saves to what its own tree encodes to. A failed
// load must leave the object untouched.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "describe_fuzz_model.hpp"
#include "statewire/vmstate_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  const auto& d = fuzz::fuzz_model();
  static const TestResolver tests = d.test_resolver();
  const std::uint32_t version = size ? 1 + (data[0] & 1) : 1;
  LoadOptions lo;
  lo.limits.max_elements = 1 << 16;

  fuzz::FuzzModel obj;
  obj.text = "untouched";
  Cursor cur(ByteSpan(data, size));
  auto r = d.load(obj, cur, version, lo);

  BodyDecodeOptions opt;
  opt.limits = lo.limits;
  opt.tests = &tests;
  Cursor dcur(ByteSpan(data, size));
  auto decoded = decode_body(d.schema(), dcur, version, opt);

  if (!r) {
    if (obj.text != "untouched" || obj.u8 != 0) std::abort();
    if (decoded && dcur.remaining() == cur.remaining()) {
      // Both must agree on what is a valid body, except for the checks only
      // the native side can make (none in this model).
      std::abort();
    }
    return 0;
  }
  if (!decoded || dcur.remaining() != cur.remaining()) std::abort();
  // The decoded tree holds every byte read (a bool byte other than 0/1 stays
  // its u8), so it re-encodes to the input; loaded as a tree it gives the
  // same object as the native load.
  const std::size_t used = size - cur.remaining();
  ByteWriter w;
  if (!encode_body(*decoded, w)) std::abort();
  const Bytes again = std::move(w).take();
  if (again.size() != used || !std::equal(again.begin(), again.end(), data)) std::abort();
  fuzz::FuzzModel via;
  if (!d.from_tree(via, *decoded, version, lo)) std::abort();
  auto tree = d.to_tree(obj, SaveOptions{version});
  auto via_tree = d.to_tree(via, SaveOptions{version});
  if (!tree || !via_tree || !(*tree == *via_tree)) std::abort();
  // The object saves to what its tree encodes to.
  auto saved = d.save(obj, SaveOptions{version});
  ByteWriter w2;
  if (!saved || !encode_body(*tree, w2) || *saved != std::move(w2).take()) std::abort();
  return 0;
}
