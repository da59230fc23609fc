// Fuzz target: a registry of two objects (instances 0 and 1 of one
// description, the second allowed to be missing) loading hostile bytes
// through the codec their first bytes name. A refused load must leave both
// objects exactly as they were (their saved bytes compared); an accepted one
// must save again and load into a fresh registry to the same state.
#include <cstdlib>
#include <vector>

#include "describe_fuzz_model.hpp"
#include "statewire/codec.hpp"
#include "statewire/registry.hpp"

namespace {

using namespace statewire;

struct Pair {
  fuzz::FuzzModel a, b;
};

Registry registry_of(Pair& p) {
  Registry reg;
  RegisterOptions second;
  second.instance_id = 1;
  second.may_be_missing = true;
  if (!reg.add(fuzz::fuzz_model(), p.a) || !reg.add(fuzz::fuzz_model(), p.b, second))
    std::abort();
  return reg;
}

std::vector<Bytes> saved(const Registry& reg) {
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    ByteWriter w;
    if (!reg.save_body(i, w)) std::abort();
    out.emplace_back(w.bytes().begin(), w.bytes().end());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in(data, size);
  const auto name = detect_codec(in);
  if (!name) return 0;
  CodecOptions co;
  co.framed_decode.limits.max_elements = 1 << 16;
  auto codec = make_codec(*name, co);

  Pair p;
  p.a.text = "untouched a";
  p.b.text = "untouched b";
  Registry reg = registry_of(p);
  const std::vector<Bytes> before = saved(reg);
  RegistryLoadOptions lo;
  lo.limits.max_elements = 1 << 16;
  auto r = reg.load(in, *codec, lo);
  if (!r) {
    if (r.error().section.empty() && r.error().code == Errc::unknown_section) std::abort();
    if (saved(reg) != before) std::abort();
    return 0;
  }
  // Accepted: the loaded state saves, and reloads elsewhere to the same bytes.
  auto bytes = reg.save(*codec);
  if (!bytes) return 0;  // e.g. a hook refusing to save what was loaded
  Pair q;
  Registry again = registry_of(q);
  if (!again.load(*bytes, *codec, lo)) std::abort();
  if (saved(again) != saved(reg)) std::abort();
  return 0;
}
