// Fuzz target: loading a native description from hostile bytes. Whatever the
// native loader accepts, the schema-driven decoder (decode_body with the
// description's schema and test resolver) must accept too, with a tree equal
// to the loaded object's, and saving the object again must give back exactly
// the bytes consumed (when the same subsections are needed). A failed load must leave the object untouched.
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
  auto tree = d.to_tree(obj, SaveOptions{version});
  if (!tree || tree->members != decoded->members) std::abort();
  // A peer may send a subsection our `needed` would not (e.g. all zeros);
  // the object then saves without it, so compare bytes only when both agree.
  auto names = [](const Struct& s) {
    std::vector<std::string> out;
    for (const auto& sub : s.subsections) out.push_back(sub.name);
    return out;
  };
  if (names(*tree) != names(*decoded)) return 0;
  if (!(*tree == *decoded)) std::abort();
  auto saved = d.save(obj, SaveOptions{version});
  const std::size_t used = size - cur.remaining();
  if (!saved || saved->size() != used || !std::equal(saved->begin(), saved->end(), data))
    std::abort();
  return 0;
}
