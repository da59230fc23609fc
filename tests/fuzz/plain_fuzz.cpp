// Fuzz target: loading a fixed-layout description (the byte-plan path: mixed
// widths with padding, a double, bools, a nested struct array) from hostile
// bytes. The native load must agree with the schema-driven decoder on what
// is a body and on every value, leave the object untouched when it fails,
// keep undescribed members, and save back the bytes it consumed (a bool byte
// QEMU reads as true saves as 0x01).
#include <array>
#include <cstdlib>
#include <cstring>

#include "statewire/describe.hpp"
#include "statewire/vmstate_body.hpp"

namespace {

using namespace statewire;

struct Pair {
  std::uint16_t tag = 0;
  std::uint64_t value = 0;
  bool valid = false;
};

struct Plain {
  std::uint8_t a = 0;
  std::uint64_t b = 0;
  std::int16_t c = 0;
  bool on = false;
  double d = 0;
  std::uint32_t keep = 0xfeedface;  // not described
  std::array<std::uint32_t, 20> regs{};
  std::array<Pair, 3> pairs{};
  std::int64_t last = 0;
};

const NativeDescription<Plain>& model() {
  static const auto pair = describe<Pair>("pair", 1, 1)
                               .field("tag", &Pair::tag)
                               .field("value", &Pair::value)
                               .field("valid", &Pair::valid);
  static const auto d = describe<Plain>("plain", 1, 1)
                            .field("last", &Plain::last)
                            .field("a", &Plain::a)
                            .field("b", &Plain::b)
                            .field("c", &Plain::c)
                            .field("on", &Plain::on)
                            .field("d", &Plain::d)
                            .field("regs", &Plain::regs)
                            .structure("pairs", &Plain::pairs, pair);
  return d;
}

bool same(const Plain& x, const Plain& y) { return std::memcmp(&x, &y, sizeof x) == 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& d = model();
  Plain obj;
  std::memset(static_cast<void*>(&obj), 0x77, sizeof obj);  // padding too: compared bytewise below
  obj.keep = 0xfeedface;
  Plain before;
  std::memcpy(&before, &obj, sizeof obj);

  auto r = d.load(obj, ByteSpan(data, size), 1);
  Cursor dcur(ByteSpan(data, size));
  auto decoded = decode_body(d.schema(), dcur, 1);
  const bool decoder_ok = decoded && dcur.empty();
  if (!r) {
    if (!same(obj, before) || decoder_ok) std::abort();
    return 0;
  }
  if (!decoder_ok || obj.keep != 0xfeedface) std::abort();
  // The decoded tree keeps every byte (a bool byte other than 0/1 as its u8),
  // so it re-encodes to the input, and the tree path loads the same object.
  ByteWriter w;
  if (!encode_body(*decoded, w) || std::move(w).take() != Bytes(data, data + size)) std::abort();
  Plain via;
  std::memcpy(&via, &before, sizeof via);
  if (!d.from_tree(via, *decoded, 1) || !same(via, obj)) std::abort();
  // Saving gives the input back, but for bool bytes QEMU reads as true and
  // writes as 0x01.
  auto saved = d.save(obj);
  if (!saved || saved->size() != size) std::abort();
  auto tree = d.to_tree(obj);
  ByteWriter w2;
  if (!tree || !encode_body(*tree, w2) || std::move(w2).take() != *saved) std::abort();
  for (std::size_t i = 0; i < size; ++i)
    if ((*saved)[i] != data[i] && !((*saved)[i] == 1 && data[i] > 1)) std::abort();
  return 0;
}
