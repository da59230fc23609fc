// Fuzz target for the VMState parity constructs: arrays of pointers (scalar
// and struct, with NULL elements), QTAILQ-style lists in a std::vector and a
// std::list, a GTree in a std::map, an _EQUAL field, a 2-D array, a computed wire-only child and a
// nested struct at a fixed version, pointer arrays inside a pointed-to struct
// and inside an array of structs. For any input, the native load and
// decode_body (with the destination's test and pointer resolvers) must agree:
// what the native side accepts decodes to a tree that re-encodes to exactly
// the bytes consumed and loads (from_tree) into the same object; what it
// refuses either fails to decode or fails to load as a tree (the checks only
// a destination can make: _EQUAL, the computed child's apply), and a refused
// load changes nothing, pointees included.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <list>
#include <map>
#include <vector>

#include "statewire/describe.hpp"
#include "statewire/vmstate_body.hpp"

namespace {

using namespace statewire;

struct PInner {
  std::uint16_t a = 0;
  bool on = false;
};
struct PVersioned {
  std::uint8_t a = 0;
  std::uint8_t b = 0;  // since 2
};
struct PTmp {
  std::uint64_t ns = 0;
};
// A pointer array inside a struct reached through a pointer and inside an
// array of structs: each instance's NULLs are its own.
struct PNest {
  std::array<std::uint16_t, 2> vals{};
  std::array<std::uint16_t*, 2> p{};
  void aim(bool null0, bool null1) {
    p = {null0 ? nullptr : &vals[0], null1 ? nullptr : &vals[1]};
  }
};

struct ParityModel {
  std::uint8_t head = 0;
  std::array<std::uint32_t, 3> store{};
  std::array<std::uint32_t*, 3> ptrs{{&store[0], nullptr, &store[2]}};
  std::array<PInner, 2> pool{};
  std::array<PInner*, 2> pptrs{{nullptr, &pool[1]}};
  std::vector<PInner> queue;
  std::list<PInner> chain;
  std::map<std::uint16_t, PInner> tree;
  std::uint16_t eq = 0x0102;
  std::uint8_t grid[2][2] = {};
  std::uint32_t ms = 0;
  PVersioned v;
  std::uint8_t tail = 0;
  PNest nest_own;
  PNest* nest = &nest_own;
  std::array<PNest, 2> nests{};

  ParityModel() { aim(); }
  void aim() {
    nest_own.aim(false, true);
    nests[0].aim(true, false);
    nests[1].aim(false, false);
  }
  // Copies keep pointing at their own storage, like a device's sub-objects.
  ParityModel(const ParityModel& o) {
    aim();
    *this = o;
  }
  ParityModel& operator=(const ParityModel& o) {
    head = o.head;
    store = o.store;
    pool = o.pool;
    queue = o.queue;
    chain = o.chain;
    tree = o.tree;
    eq = o.eq;
    std::copy(&o.grid[0][0], &o.grid[0][0] + 4, &grid[0][0]);
    ms = o.ms;
    v = o.v;
    tail = o.tail;
    nest_own.vals = o.nest_own.vals;
    for (std::size_t i = 0; i < 2; ++i) nests[i].vals = o.nests[i].vals;
    return *this;
  }
};

const NativeDescription<ParityModel>& parity_model() {
  static const auto inner =
      describe<PInner>("parity/inner", 1, 1).field("a", &PInner::a).field("on", &PInner::on);
  static const auto versioned = describe<PVersioned>("parity/v", 2, 1)
                                    .field("a", &PVersioned::a)
                                    .field("b", &PVersioned::b, since(2));
  static const auto tmp = describe<PTmp>("parity/tmp", 1, 1).field("ns", &PTmp::ns);
  static const auto nest = describe<PNest>("parity/nest", 1, 1).field("p", &PNest::p);
  static const auto d =
      describe<ParityModel>("parity", 1, 1)
          .field("head", &ParityModel::head)
          .field("ptrs", &ParityModel::ptrs)
          .structure("pptrs", &ParityModel::pptrs, inner)
          .list("queue", &ParityModel::queue, inner)
          .list("chain", &ParityModel::chain, inner)
          .map("tree", &ParityModel::tree, direct_key(), inner)
          .field("eq", &ParityModel::eq, must_equal())
          .field("grid", &ParityModel::grid)
          .computed(
              "tmp", tmp, [](const ParityModel& m) { return PTmp{std::uint64_t{m.ms} * 1000}; },
              [](ParityModel& m, const PTmp& t) -> Result<void> {
                if (t.ns % 1000 || t.ns / 1000 > UINT32_MAX)
                  return fail(Errc::invalid_value, "not whole microseconds");
                m.ms = static_cast<std::uint32_t>(t.ns / 1000);
                return ok();
              })
          .structure("v", &ParityModel::v, versioned, struct_version(1))
          .field("tail", &ParityModel::tail)
          .structure("nest", &ParityModel::nest, nest)
          .structure("nests", &ParityModel::nests, nest);
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& d = parity_model();
  const ParityModel fresh;
  const TestResolver tests = d.test_resolver(fresh);
  const PointerResolver pointers = d.pointer_resolver(fresh);
  LoadOptions lo;
  lo.limits.max_elements = 1 << 12;
  BodyDecodeOptions opt;
  opt.limits = lo.limits;
  opt.tests = &tests;
  opt.pointers = &pointers;

  ParityModel obj;
  Cursor cur(ByteSpan(data, size));
  auto r = d.load(obj, cur, 1, lo);
  Cursor dcur(ByteSpan(data, size));
  auto decoded = decode_body(d.schema(), dcur, 1, opt);
  const auto before = d.to_tree(fresh);
  if (!before) std::abort();

  if (!r) {
    auto now = d.to_tree(obj);
    if (!now || !(*now == *before) || obj.store != fresh.store) std::abort();
    if (decoded && dcur.remaining() == cur.remaining()) {
      ParityModel other;
      if (d.from_tree(other, *decoded, 1)) std::abort();  // a check only one side makes
    }
    return 0;
  }
  if (!decoded || dcur.remaining() != cur.remaining()) std::abort();
  const std::size_t used = size - cur.remaining();
  ByteWriter w;
  if (!encode_body(*decoded, w)) std::abort();
  const Bytes again = std::move(w).take();
  if (again.size() != used || !std::equal(again.begin(), again.end(), data)) std::abort();
  ParityModel via;
  if (!d.from_tree(via, *decoded, 1)) std::abort();
  auto a = d.to_tree(obj);
  auto b = d.to_tree(via);
  if (!a || !b || !(*a == *b)) std::abort();
  auto saved = d.save(obj);
  ByteWriter w2;
  if (!saved || !encode_body(*a, w2) || *saved != std::move(w2).take()) std::abort();
  return 0;
}
