// VMState parity: each construct QEMU's VMState has, as a native description
// and through the schema codec (decode_body/encode_body), against byte vectors
// written out by hand from QEMU's encoding rules (migration/vmstate.c,
// vmstate-types.c): the same bytes on save, the same accept/refuse on load.
#include <gtest/gtest.h>

#include <array>
#include <list>
#include <map>
#include <string>
#include <vector>

#include "statewire/describe.hpp"
#include "statewire/schema_builder.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {
namespace {

// decode_body of `bytes` as a receiver holding `dest` reads them: its tests
// and pointers decide. The whole span must be the body.
template <class T>
Result<Struct> decode_as(const NativeDescription<T>& d, const T& dest, const Bytes& bytes,
                         std::uint32_t version, DecodeLimits limits = {}) {
  const TestResolver tests = d.test_resolver(dest);
  const PointerResolver pointers = d.pointer_resolver(dest);
  BodyDecodeOptions opt;
  opt.limits = limits;
  opt.tests = &tests;
  opt.pointers = &pointers;
  Cursor cur(bytes);
  auto r = decode_body(d.schema(), cur, version, opt);
  if (r && !cur.empty()) return fail(Errc::mismatch, "bytes left after the body");
  return r;
}

Bytes encode(const Struct& s) {
  ByteWriter w;
  EXPECT_TRUE(encode_body(s, w));
  return std::move(w).take();
}

// The promise of docs/describe.md: the native save equals the bytes QEMU's
// rules give, decode_body (as the destination would read them) gives
// to_tree(obj), and the tree re-encodes to the same bytes.
template <class T>
void expect_wire(const NativeDescription<T>& d, const T& obj, const T& dest, const Bytes& want,
                 std::uint32_t version) {
  auto saved = d.save(obj, SaveOptions{version});
  ASSERT_TRUE(saved) << saved.error().to_string();
  EXPECT_EQ(*saved, want);
  auto tree = d.to_tree(obj, SaveOptions{version});
  ASSERT_TRUE(tree) << tree.error().to_string();
  auto decoded = decode_as(d, dest, want, version);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(*decoded, *tree) << to_text(*decoded) << "\n" << to_text(*tree);
  EXPECT_EQ(encode(*decoded), want);
}

// ---- Arrays of pointers (VMS_ARRAY_OF_POINTER) ----------------------------

struct PtrScalars {
  std::array<std::uint32_t, 4> store{};
  std::array<std::uint32_t*, 4> p{};
};

NativeDescription<PtrScalars> ptr_scalars() {
  return describe<PtrScalars>("ptrs", 1, 1).field("p", &PtrScalars::p);
}

// `null` marks the elements whose pointer is NULL; the others point into store.
PtrScalars with_pointers(std::array<bool, 4> null, std::array<std::uint32_t, 4> values = {}) {
  PtrScalars s;
  s.store = values;
  for (std::size_t i = 0; i < 4; ++i) s.p[i] = null[i] ? nullptr : &s.store[i];
  return s;
}

// The issue's case: QEMU's {0x30000000, NULL, 2, 3}. The first element starts
// with the marker byte, so only the destination can tell.
const Bytes kIssuePointers = {0x30, 0, 0, 0, 0x30, 0, 0, 0, 2, 0, 0, 0, 3};

TEST(ParityPointers, ArrayOfScalarPointersWritesTheNullMarker) {
  const auto d = ptr_scalars();
  PtrScalars src = with_pointers({false, true, false, false}, {0x30000000, 0, 2, 3});
  PtrScalars dest = with_pointers({false, true, false, false});
  expect_wire(d, src, dest, kIssuePointers, 1);
  ASSERT_TRUE(d.load(dest, kIssuePointers, 1));
  EXPECT_EQ(dest.store, (std::array<std::uint32_t, 4>{0x30000000, 0, 2, 3}));
  EXPECT_EQ(d.schema().field_list()[0].nullable, true);
}

TEST(ParityPointers, DecodeNeverGuessesNullFromTheBytes) {
  const auto d = ptr_scalars();
  Cursor cur(kIssuePointers);
  auto r = decode_body(d.schema(), cur, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().field_path, "p[0]");
  EXPECT_EQ(r.error().offset, 0u);
}

TEST(ParityPointers, DestinationDecidesAcceptOrRefuseOnBothPaths) {
  const auto d = ptr_scalars();
  // Every pointer set: four u32 are wanted, 13 bytes are there.
  PtrScalars all = with_pointers({false, false, false, false}, {7, 7, 7, 7});
  auto r = d.load(all, kIssuePointers, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_EQ(all.store, (std::array<std::uint32_t, 4>{7, 7, 7, 7}));  // pointees put back
  EXPECT_FALSE(decode_as(d, all, kIssuePointers, 1));
  // A NULL where the stream holds 0x00 0x00 0x00 0x02: not the marker.
  PtrScalars third_null = with_pointers({false, true, true, false}, {5, 5, 5, 5});
  auto r2 = d.load(third_null, kIssuePointers, 1);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::invalid_value);
  EXPECT_EQ(r2.error().offset, 5u);
  EXPECT_EQ(r2.error().field_path, "p[2]");
  EXPECT_EQ(third_null.store[0], 5u);  // element 0 was loaded, then put back
  auto dr = decode_as(d, third_null, kIssuePointers, 1);
  ASSERT_FALSE(dr);
  EXPECT_EQ(dr.error().code, Errc::invalid_value);
  EXPECT_EQ(dr.error().offset, 5u);
}

struct Pair {
  std::uint16_t x = 0;
  std::uint8_t y = 0;
  friend bool operator==(const Pair&, const Pair&) = default;
};

const NativeDescription<Pair>& pair_desc() {
  static const auto d = describe<Pair>("pair", 1, 1).field("x", &Pair::x).field("y", &Pair::y);
  return d;
}

struct PtrStructs {
  Pair own{};
  std::array<Pair, 3> pool{};
  Pair* one = nullptr;
  std::array<Pair*, 3> many{};
};

NativeDescription<PtrStructs> ptr_structs() {
  return describe<PtrStructs>("ptr_structs", 1, 1)
      .structure("one", &PtrStructs::one, pair_desc())
      .structure("many", &PtrStructs::many, pair_desc());
}

TEST(ParityPointers, PointerToStructAndArrayOfPointersToStructs) {
  const auto d = ptr_structs();
  PtrStructs src;
  src.own = {0x0102, 3};
  src.pool = {Pair{0x0405, 6}, Pair{}, Pair{0x3031, 0x32}};
  src.one = &src.own;
  src.many = {&src.pool[0], nullptr, &src.pool[2]};
  PtrStructs dest;
  dest.one = &dest.own;
  dest.many = {&dest.pool[0], nullptr, &dest.pool[2]};
  const Bytes want = {0x01, 0x02, 0x03,  // *one
                      0x04, 0x05, 0x06,  // *many[0]
                      0x30,              // many[1] is NULL
                      0x30, 0x31, 0x32};  // *many[2] starts like a marker
  expect_wire(d, src, dest, want, 1);
  ASSERT_TRUE(d.load(dest, want, 1));
  EXPECT_EQ(dest.own, src.own);
  EXPECT_EQ(dest.pool[0], src.pool[0]);
  EXPECT_EQ(dest.pool[2], src.pool[2]);
  // from_tree follows the destination's pointers the same way.
  PtrStructs again;
  again.one = &again.own;
  again.many = {&again.pool[0], nullptr, &again.pool[2]};
  ASSERT_TRUE(d.from_tree(again, *d.to_tree(src), 1));
  EXPECT_EQ(again.pool[2], src.pool[2]);
}

TEST(ParityPointers, NullSinglePointerIsAnErrorNotACrash) {
  const auto d = ptr_structs();
  PtrStructs src;
  src.many = {&src.pool[0], &src.pool[1], &src.pool[2]};
  auto r = d.save(src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().field_path, "one");
  const Bytes bytes(12, 0);
  auto l = d.load(src, bytes, 1);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().field_path, "one");
}

TEST(ParityPointers, TrailerDescribedNullElementDecidesWithoutAResolver) {
  // How a stream's own description names a NULL element: one field per
  // element, the NULL one the marker alone (QEMU 7.2: an empty "struct").
  Field null_elem;
  null_elem.name = "many";
  null_elem.kind = FieldKind::opaque;
  null_elem.size = 1;
  null_elem.nullable = true;
  null_elem.null_elements = {true};
  Description d;
  d.name = "t";
  d.version_id = 1;
  d.fields = std::vector<Field>{null_elem};
  const Bytes ok = {0x30};
  Cursor c(ok);
  auto r = decode_body(d, c, 1);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->members[0].value, Value(Null{}));
  EXPECT_EQ(encode(*r), ok);
  const Bytes bad = {0x31};
  Cursor c2(bad);
  auto r2 = decode_body(d, c2, 1);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::invalid_value);
}

// ---- Nested pointers: a pointer array inside a struct reached through a
// struct, an array of structs or a pointer. Each instance's NULLs are its own.

struct Slots {
  std::array<std::uint32_t, 2> vals{};
  std::array<std::uint32_t*, 2> p{};
  // Points p[k] at vals[k] unless null[k].
  void aim(std::array<bool, 2> null, std::array<std::uint32_t, 2> v = {}) {
    vals = v;
    for (std::size_t k = 0; k < 2; ++k) p[k] = null[k] ? nullptr : &vals[k];
  }
};

const NativeDescription<Slots>& slots_desc() {
  static const auto d = describe<Slots>("slots", 1, 1).field("p", &Slots::p);
  return d;
}

struct Nest {
  Slots own{};
  Slots* one = nullptr;             // VMSTATE_STRUCT_POINTER
  std::array<Slots, 2> two{};       // an array of structs
  std::array<Slots, 2> pool{};
  std::array<Slots*, 2> many{};     // an array of pointers to structs
};

NativeDescription<Nest> nest_desc() {
  return describe<Nest>("nest", 1, 1)
      .structure("one", &Nest::one, slots_desc())
      .structure("two", &Nest::two, slots_desc())
      .structure("many", &Nest::many, slots_desc());
}

// one->p {NULL, 5}; two[0].p {6, NULL}; two[1].p {NULL, NULL}; many {NULL,
// ->{0x30303030, NULL}}: the same description's field with four patterns.
void aim_nest(Nest& n, bool values) {
  auto v = [values](std::uint32_t a, std::uint32_t b) {
    return values ? std::array<std::uint32_t, 2>{a, b} : std::array<std::uint32_t, 2>{};
  };
  n.own.aim({true, false}, v(0, 5));
  n.one = &n.own;
  n.two[0].aim({false, true}, v(6, 0));
  n.two[1].aim({true, true});
  n.pool[1].aim({false, true}, v(0x30303030, 0));
  n.many = {nullptr, &n.pool[1]};
}

const Bytes kNest = {0x30, 0x00, 0x00, 0x00, 0x05,   // one->p: NULL, 5
                     0x00, 0x00, 0x00, 0x06, 0x30,   // two[0].p: 6, NULL
                     0x30, 0x30,                     // two[1].p: NULL, NULL
                     0x30,                           // many[0] is NULL
                     0x30, 0x30, 0x30, 0x30, 0x30};  // many[1]->p: 0x30303030, NULL

TEST(ParityPointers, NestedPointerArraysAreDecidedPerInstanceOnBothPaths) {
  const auto d = nest_desc();
  Nest src, dest;
  aim_nest(src, true);
  aim_nest(dest, false);
  auto saved = d.save(src);
  ASSERT_TRUE(saved) << saved.error().to_string();
  EXPECT_EQ(*saved, kNest);
  // The resolver is keyed by each instance's path.
  const PointerResolver r = d.pointer_resolver(dest);
  for (const char* key : {"nest.one.p", "nest.two[0].p", "nest.two[1].p", "nest.many",
                          "nest.many[1].p"})
    EXPECT_TRUE(r.count(key)) << key;
  EXPECT_FALSE(r.count("nest.many[0].p"));  // NULL: nothing to read there
  auto tree = d.to_tree(src);
  ASSERT_TRUE(tree);
  auto decoded = decode_as(d, dest, kNest, 1);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(*decoded, *tree) << to_text(*decoded) << "\n" << to_text(*tree);
  EXPECT_EQ(encode(*decoded), kNest);
  ASSERT_TRUE(d.load(dest, kNest, 1));
  EXPECT_EQ(dest.own.vals[1], 5u);
  EXPECT_EQ(dest.two[0].vals[0], 6u);
  EXPECT_EQ(dest.pool[1].vals[0], 0x30303030u);
}

TEST(ParityPointers, NestedDestinationThatDiffersRefusesOnBothPaths) {
  const auto d = nest_desc();
  // two[1].p[1] is set on this destination: after two[1].p[0]'s marker it
  // reads 30 30 30 30 as a value, then many[0] wants a marker and finds 0x30
  // there, many[1]->p[0] wants four bytes of which one is left.
  Nest dest;
  aim_nest(dest, false);
  dest.two[1].aim({true, false});
  auto l = d.load(dest, kNest, 1);
  ASSERT_FALSE(l);
  auto r = decode_as(d, dest, kNest, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, l.error().code);
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_EQ(r.error().field_path, "many[1].p[0]");
}

TEST(ParityPointers, SchemaPathResolverByInstancePath) {
  // The same wire through a hand-written Description: a resolver keyed by
  // instance paths decides each; the description-wide key cannot, since its
  // instances differ, so alone it gives a wrong reading or an error.
  auto slots = SchemaBuilder("slots", 1, 1).pointers("p", FieldKind::u32, 2).build();
  ASSERT_TRUE(slots) << slots.error().to_string();
  FieldOptions two;
  two.count = 2;
  auto nest = SchemaBuilder("nest", 1, 1)
                  .structure("one", *slots)
                  .structure("two", *slots, two)
                  .struct_pointers("many", *slots, 2)
                  .build();
  ASSERT_TRUE(nest) << nest.error().to_string();
  auto nulls = [](std::vector<bool> v) -> PointerPredicate {
    return [v](const Struct&, std::uint64_t k) -> std::optional<bool> {
      if (k >= v.size()) return std::nullopt;
      return bool(v[k]);
    };
  };
  PointerResolver r;
  r["nest.one.p"] = nulls({true, false});
  r["nest.two[0].p"] = nulls({false, true});
  r["nest.two[1].p"] = nulls({true, true});
  r["nest.many"] = nulls({true, false});
  r["nest.many[1].p"] = nulls({false, true});
  BodyDecodeOptions opt;
  opt.pointers = &r;
  Cursor cur(kNest);
  auto got = decode_body(*nest, cur, 1, opt);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_TRUE(cur.empty());
  EXPECT_EQ(encode(*got), kNest);
  const Value* many = got->find("many");
  ASSERT_TRUE(many && many->get_if<Array>());
  EXPECT_EQ(many->get_if<Array>()->items[0], Value(Null{}));
  const Struct* m1 = many->get_if<Array>()->items[1].get_if<Struct>();
  ASSERT_TRUE(m1);
  const Array* p = m1->find("p")->get_if<Array>();
  EXPECT_EQ(p->items[0], Value(std::uint32_t{0x30303030}));
  EXPECT_EQ(p->items[1], Value(Null{}));
  // An instance no key names is undecided: an error naming it, not a guess.
  r.erase("nest.two[1].p");
  Cursor cur2(kNest);
  auto undecided = decode_body(*nest, cur2, 1, opt);
  ASSERT_FALSE(undecided);
  EXPECT_EQ(undecided.error().code, Errc::unsupported);
  EXPECT_EQ(undecided.error().field_path, "two[1].p[0]");
  EXPECT_EQ(undecided.error().offset, 10u);
  // The description-wide key decides every instance alike.
  PointerResolver wide;
  wide["nest.many"] = nulls({true, false});
  wide["slots.p"] = nulls({false, false});
  opt.pointers = &wide;
  Cursor cur3(kNest);
  auto alike = decode_body(*nest, cur3, 1, opt);
  EXPECT_FALSE(alike && cur3.empty());
}

// ---- Lists (QTAILQ / QLIST) ---------------------------------------------------

struct Lists {
  std::uint8_t before = 0;
  std::vector<Pair> q;
  std::list<Pair> l;
  std::uint8_t after = 0;
  friend bool operator==(const Lists&, const Lists&) = default;
};

NativeDescription<Lists> lists_desc() {
  return describe<Lists>("lists", 1, 1)
      .field("before", &Lists::before)
      .list("q", &Lists::q, pair_desc())
      .list("l", &Lists::l, pair_desc())
      .field("after", &Lists::after);
}

Lists sample_lists() {
  Lists s;
  s.before = 0xaa;
  s.q = {Pair{0x0102, 3}, Pair{0x0405, 6}};
  s.l = {Pair{0x0708, 9}};
  s.after = 0xbb;
  return s;
}

const Bytes kLists = {0xaa,                           // before
                      0x01, 0x01, 0x02, 0x03,         // q[0]
                      0x01, 0x04, 0x05, 0x06,         // q[1]
                      0x00,                           // end of q
                      0x01, 0x07, 0x08, 0x09, 0x00,   // l
                      0xbb};

TEST(ParityLists, VectorAndListSaveWithMarkersAndLoadBack) {
  const auto d = lists_desc();
  expect_wire(d, sample_lists(), Lists{}, kLists, 1);
  Lists out;
  out.q = {Pair{9, 9}, Pair{9, 9}, Pair{9, 9}};  // replaced, not appended to
  ASSERT_TRUE(d.load(out, kLists, 1));
  EXPECT_EQ(out, sample_lists());
  EXPECT_TRUE(d.schema().field_list()[1].list);
}

TEST(ParityLists, AnyNonZeroMarkerContinuesAndTheTreeKeepsIt) {
  const auto d = lists_desc();
  Bytes odd = kLists;
  odd[1] = 0x02;   // q[0]
  odd[10] = 0xff;  // l[0]
  Lists out;
  ASSERT_TRUE(d.load(out, odd, 1));
  EXPECT_EQ(out, sample_lists());
  auto decoded = decode_as(d, Lists{}, odd, 1);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(encode(*decoded), odd);  // the markers survive
  const Array* q = decoded->members[1].value.get_if<Array>();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->markers, (std::vector<std::uint8_t>{0x02, 0x01}));
  // The native save writes QEMU's 0x01.
  EXPECT_EQ(*d.save(out), kLists);
  // from_tree of the decoded tree loads the same object.
  Lists via;
  ASSERT_TRUE(d.from_tree(via, *decoded, 1));
  EXPECT_EQ(via, sample_lists());
}

TEST(ParityLists, UnendedListAndTooManyElementsAreRefusedOnBothPaths) {
  const auto d = lists_desc();
  const Bytes cut(kLists.begin(), kLists.begin() + 9);  // no end marker for q
  Lists out = sample_lists();
  out.after = 1;
  const Lists before = out;
  auto r = d.load(out, cut, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_EQ(r.error().field_path, "q");
  EXPECT_EQ(out, before);
  auto dr = decode_as(d, Lists{}, cut, 1);
  ASSERT_FALSE(dr);
  EXPECT_EQ(dr.error().code, Errc::truncated);

  DecodeLimits one;
  one.max_elements = 1;
  LoadOptions lo;
  lo.limits = one;
  auto r2 = d.load(out, kLists, 1, lo);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::limit_exceeded);
  auto dr2 = decode_as(d, Lists{}, kLists, 1, one);
  ASSERT_FALSE(dr2);
  EXPECT_EQ(dr2.error().code, Errc::limit_exceeded);
}

TEST(ParityLists, EveryProperPrefixIsAnError) {
  const auto d = lists_desc();
  for (std::size_t n = 0; n < kLists.size(); ++n) {
    const Bytes cut(kLists.begin(), kLists.begin() + static_cast<std::ptrdiff_t>(n));
    Lists out;
    EXPECT_FALSE(d.load(out, cut, 1)) << n;
    EXPECT_FALSE(decode_as(d, Lists{}, cut, 1)) << n;
  }
}

// ---- GTree (VMSTATE_GTREE_V / VMSTATE_GTREE_DIRECT_KEY_V) -------------------------

struct Mapping {
  std::uint32_t len = 0;
  std::uint8_t flags = 0;
  friend bool operator==(const Mapping&, const Mapping&) = default;
};
struct Interval {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  friend auto operator<=>(const Interval&, const Interval&) = default;
};
struct Trees {
  std::map<std::uint32_t, Mapping> direct;
  std::map<Interval, Mapping> keyed;
  friend bool operator==(const Trees&, const Trees&) = default;
};

NativeDescription<Trees> trees_desc() {
  static const auto mapping =
      describe<Mapping>("mapping", 1, 1).field("len", &Mapping::len).field("flags", &Mapping::flags);
  static const auto interval = describe<Interval>("interval", 1, 1)
                                   .field("low", &Interval::low)
                                   .field("high", &Interval::high);
  return describe<Trees>("trees", 1, 1)
      .map("direct", &Trees::direct, direct_key(), mapping)
      .map("keyed", &Trees::keyed, interval, mapping);
}

Trees sample_trees() {
  Trees t;
  t.direct = {{5, Mapping{0x10, 1}}, {0x100, Mapping{0x20, 2}}};
  t.keyed = {{Interval{0x1000, 0x1fff}, Mapping{0x1000, 3}}};
  return t;
}

const Bytes kTrees = {
    0, 0, 0, 2,                                           // direct: 2 nodes
    1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0x10, 1,          // key 5 (be64), value
    1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 2,          // key 0x100
    0,                                                    // end
    0, 0, 0, 1,                                           // keyed: 1 node
    1, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0xff,  // key {low, high}
    0, 0, 0x10, 0, 3,                                     // value
    0};

TEST(ParityGtree, MapsSaveAsQemuGtreesAndLoadBack) {
  const auto d = trees_desc();
  expect_wire(d, sample_trees(), Trees{}, kTrees, 1);
  Trees out;
  out.direct[99] = Mapping{};  // replaced, not merged
  ASSERT_TRUE(d.load(out, kTrees, 1));
  EXPECT_EQ(out, sample_trees());
  EXPECT_TRUE(d.schema().field_list()[0].gtree);
  EXPECT_FALSE(d.schema().field_list()[0].key);
  EXPECT_TRUE(d.schema().field_list()[1].key);
  Trees via;
  ASSERT_TRUE(d.from_tree(via, *d.to_tree(sample_trees()), 1));
  EXPECT_EQ(via, sample_trees());
}

TEST(ParityGtree, CountNotMatchingTheNodesIsRefusedOnBothPaths) {
  const auto d = trees_desc();
  for (std::uint8_t count : {1, 3}) {
    Bytes b = kTrees;
    b[3] = count;
    Trees out = sample_trees();
    auto r = d.load(out, b, 1);
    ASSERT_FALSE(r) << int(count);
    EXPECT_EQ(r.error().code, Errc::invalid_value);
    EXPECT_EQ(r.error().field_path.rfind("direct", 0), 0u) << r.error().field_path;
    EXPECT_EQ(out, sample_trees());
    auto dr = decode_as(d, Trees{}, b, 1);
    ASSERT_FALSE(dr);
    EXPECT_EQ(dr.error().code, Errc::invalid_value);
  }
}

TEST(ParityGtree, AnyNonZeroNodeMarkerContinuesAndIsKept) {
  const auto d = trees_desc();
  Bytes b = kTrees;
  b[4] = 0x7f;
  Trees out;
  ASSERT_TRUE(d.load(out, b, 1));
  EXPECT_EQ(out, sample_trees());
  auto decoded = decode_as(d, Trees{}, b, 1);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(encode(*decoded), b);
}

TEST(ParityGtree, KeysOutOfOrderOrTooWideAreRefusedByTheNativeLoad) {
  const auto d = trees_desc();
  Bytes swapped = kTrees;
  std::swap_ranges(swapped.begin() + 4, swapped.begin() + 18, swapped.begin() + 18);
  Trees out;
  auto r = d.load(out, swapped, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().field_path, "direct[1]");
  EXPECT_EQ(r.error().offset, 19u);
  // The bytes are a well-formed GTree (QEMU's loader takes them); the tree
  // path refuses them when loading into a std::map.
  auto decoded = decode_as(d, Trees{}, swapped, 1);
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(d.from_tree(out, *decoded, 1));
  Bytes wide = kTrees;
  wide[5] = 1;  // key 2^56 + 5 does not fit a uint32_t key
  auto r2 = d.load(out, wide, 1);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().offset, 5u);
}

// ---- Computed wire-only children (VMSTATE_WITH_TMP) ----------------------------

struct Clock {
  std::uint32_t ms = 0;  // the object keeps milliseconds
  std::uint8_t tail = 0;
  friend bool operator==(const Clock&, const Clock&) = default;
};
struct ClockTmp {
  std::uint64_t ns = 0;  // the wire carries nanoseconds
};

NativeDescription<Clock> clock_desc() {
  static const auto tmp = describe<ClockTmp>("clock/tmp", 1, 1).field("ns", &ClockTmp::ns);
  return describe<Clock>("clock", 1, 1)
      .computed(
          "tmp", tmp, [](const Clock& c) { return ClockTmp{std::uint64_t{c.ms} * 1000000}; },
          [](Clock& c, const ClockTmp& t) -> Result<void> {
            if (t.ns % 1000000 || t.ns / 1000000 > UINT32_MAX)
              return fail(Errc::invalid_value, "not a whole number of milliseconds");
            c.ms = static_cast<std::uint32_t>(t.ns / 1000000);
            return ok();
          })
      .field("tail", &Clock::tail);
}

TEST(ParityComputed, WireOnlyChildIsComputedOnSaveAndAppliedOnLoad) {
  const auto d = clock_desc();
  const Clock c{1500, 7};
  // 1500 ms = 1'500'000'000 ns = 0x59682F00.
  const Bytes want = {0, 0, 0, 0, 0x59, 0x68, 0x2f, 0x00, 0x07};
  expect_wire(d, c, Clock{}, want, 1);
  Clock out;
  ASSERT_TRUE(d.load(out, want, 1));
  EXPECT_EQ(out, c);
  Bytes bad = want;
  bad[7] = 0x01;  // not whole milliseconds: apply refuses, nothing changes
  Clock keep{3, 4};
  auto r = d.load(keep, bad, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field_path, "tmp");
  EXPECT_EQ(keep, (Clock{3, 4}));
  EXPECT_EQ(d.schema().field_list()[0].info, "tmp");
}

// ---- _EQUAL, 2-D arrays, variable counts, VSTRUCT, unused, base members ----------

struct Checked {
  std::int32_t nirq = 4;
  std::uint16_t x = 0;
};

TEST(ParityEqual, LoadRefusesAValueOtherThanTheDestinations) {
  const auto d = describe<Checked>("checked", 1, 1)
                     .field("nirq", &Checked::nirq, must_equal())
                     .field("x", &Checked::x);
  const Bytes want = {0, 0, 0, 4, 0x12, 0x34};
  expect_wire(d, Checked{4, 0x1234}, Checked{}, want, 1);
  Checked out;
  ASSERT_TRUE(d.load(out, want, 1));
  EXPECT_EQ(out.x, 0x1234);
  Bytes other = want;
  other[3] = 5;
  Checked keep;
  auto r = d.load(keep, other, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().field_path, "nirq");
  EXPECT_EQ(r.error().offset, 0u);
  EXPECT_EQ(keep.x, 0);
  // The tree path checks too.
  auto tree = decode_as(d, keep, other, 1);
  ASSERT_TRUE(tree);  // the bytes are well-formed; the check is the destination's
  EXPECT_FALSE(d.from_tree(keep, *tree, 1));
  EXPECT_EQ(d.schema().field_list()[0].info, "int32 equal");
  // Only integers can be checked.
  const auto bad = describe<Checked>("bad", 1, 1).unused(2, must_equal());
  EXPECT_EQ(bad.save(Checked{}).error().code, Errc::schema_invalid);
}

struct Grid {
  std::uint16_t m[2][3] = {};
  std::array<std::array<std::uint8_t, 2>, 2> b{};
};

TEST(Parity2D, TwoDimensionalArraysAreOneFlatArrayRowByRow) {
  const auto d = describe<Grid>("grid", 1, 1).field("m", &Grid::m).field("b", &Grid::b);
  Grid g;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) g.m[i][j] = static_cast<std::uint16_t>(0x100 * i + j);
  g.b = {{{1, 2}, {3, 4}}};
  const Bytes want = {0, 0, 0, 1, 0, 2, 1, 0, 1, 1, 1, 2, 1, 2, 3, 4};
  expect_wire(d, g, Grid{}, want, 1);
  EXPECT_EQ(d.schema().field_list()[0].count, Count::fixed(6));
  Grid out;
  ASSERT_TRUE(d.load(out, want, 1));
  EXPECT_EQ(out.m[1][2], 0x102);
  EXPECT_EQ(out.b[1][0], 3);
}

struct Counts {
  std::uint8_t n8 = 0;
  std::uint16_t n16 = 0;
  std::uint32_t n32 = 0;
  std::int32_t ni = 0;
  std::array<std::uint8_t, 4> a{};
  std::array<std::uint8_t, 4> b{};
  std::array<std::uint8_t, 4> c{};
  std::vector<std::uint16_t> v;
};

NativeDescription<Counts> counts_desc() {
  return describe<Counts>("counts", 1, 1)
      .field("n8", &Counts::n8)
      .field("n16", &Counts::n16)
      .field("n32", &Counts::n32)
      .field("ni", &Counts::ni)
      .varray("a", &Counts::a, &Counts::n8)
      .varray("b", &Counts::b, &Counts::n16)
      .varray("c", &Counts::c, &Counts::n32)
      .varray("v", &Counts::v, &Counts::ni, 8);
}

TEST(ParityCounts, ArraysCountedByU8U16U32AndI32Fields) {
  const auto d = counts_desc();
  Counts c;
  c.n8 = 1;
  c.n16 = 2;
  c.n32 = 0;
  c.ni = 2;
  c.a = {0xa1, 0, 0, 0};
  c.b = {0xb1, 0xb2, 0, 0};
  c.v = {0x0102, 0x0304};
  const Bytes want = {1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0xa1, 0xb1, 0xb2, 1, 2, 3, 4};
  expect_wire(d, c, Counts{}, want, 1);
  // A negative i32 count is refused on both paths.
  Bytes neg = want;
  neg[7] = 0xff;
  neg[8] = 0xff;
  neg[9] = 0xff;
  neg[10] = 0xff;
  Counts out;
  auto r = d.load(out, neg, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field_path, "v");
  EXPECT_FALSE(decode_as(d, Counts{}, neg, 1));
  // Above the bound: refused before reading.
  Bytes big = want;
  big[10] = 9;
  auto r2 = d.load(out, big, 1);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::limit_exceeded);
  auto dr2 = decode_as(d, Counts{}, big, 1);
  ASSERT_FALSE(dr2);
  EXPECT_EQ(dr2.error().code, Errc::limit_exceeded);
}

struct Versioned {
  std::uint8_t a = 0;
  std::uint8_t b = 0;  // since 2
};
struct Holder {
  Versioned v;
  std::uint8_t end = 0;
};

TEST(ParityVstruct, NestedStructAtAFixedVersion) {
  const auto inner = describe<Versioned>("versioned", 2, 1)
                         .field("a", &Versioned::a)
                         .field("b", &Versioned::b, since(2));
  const auto d = describe<Holder>("holder", 1, 1)
                     .structure("v", &Holder::v, inner, struct_version(1))
                     .field("end", &Holder::end);
  const Holder h{{5, 6}, 7};
  const Bytes want = {5, 7};  // b is newer than version 1
  expect_wire(d, h, Holder{}, want, 1);
  EXPECT_EQ(d.schema().field_list()[0].struct_version, 1u);
  Holder out{{0, 9}, 0};
  ASSERT_TRUE(d.load(out, want, 1));
  EXPECT_EQ(out.v.a, 5);
  EXPECT_EQ(out.v.b, 9);  // not on the wire at version 1
  const auto wrong = describe<Holder>("wrong", 1, 1).structure("v", &Holder::v, inner,
                                                                struct_version(3));
  EXPECT_EQ(wrong.save(h).error().code, Errc::schema_invalid);
}

struct Padded {
  std::uint8_t a = 0;
  std::uint8_t b = 0;
};

TEST(ParityUnused, PaddingIsZerosOnSaveAndAnythingOnLoad) {
  const auto d = describe<Padded>("padded", 1, 1)
                     .field("a", &Padded::a)
                     .unused(3)
                     .field("b", &Padded::b);
  expect_wire(d, Padded{1, 2}, Padded{}, Bytes{1, 0, 0, 0, 2}, 1);
  const Bytes junk = {1, 0xde, 0xad, 0x01, 2};  // QEMU skips these bytes unread
  Padded out;
  ASSERT_TRUE(d.load(out, junk, 1));
  EXPECT_EQ(out.b, 2);
  auto decoded = decode_as(d, Padded{}, junk, 1);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(encode(*decoded), junk);
}

struct Base {
  std::uint32_t id = 0;
  std::uint8_t n = 0;
};
struct Derived : Base {
  std::array<std::uint16_t, 2> regs{};
};

TEST(ParityBase, MembersOfABaseClassAreDescribedThroughTheDerivedType) {
  const auto d = describe<Derived>("derived", 1, 1)
                     .field("id", &Derived::id)
                     .field("n", &Derived::n)
                     .varray("regs", &Derived::regs, &Derived::n);
  Derived x;
  x.id = 0x01020304;
  x.n = 1;
  x.regs = {0x0506, 0};
  expect_wire(d, x, Derived{}, Bytes{1, 2, 3, 4, 1, 5, 6}, 1);
  Derived out;
  ASSERT_TRUE(d.load(out, Bytes{1, 2, 3, 4, 1, 5, 6}, 1));
  EXPECT_EQ(out.id, 0x01020304u);
}

// ---- Hooks see the version ------------------------------------------------------

struct Hooked {
  std::uint8_t a = 0;
  std::uint8_t b = 0;  // since 2
  std::vector<std::string>* log = nullptr;
};

TEST(ParityHooks, EveryHookMayTakeTheVersion) {
  auto note = [](const char* what) {
    return [what](const Hooked& h, std::uint32_t v) -> Result<void> {
      h.log->push_back(std::string(what) + " v" + std::to_string(v));
      return ok();
    };
  };
  const auto d = describe<Hooked>("hooked", 2, 1)
                     .field("a", &Hooked::a)
                     .field("b", &Hooked::b, since(2))
                     .pre_save(note("pre_save"))
                     .post_save(note("post_save"))
                     .pre_load([](Hooked& h, std::uint32_t v) -> Result<void> {
                       h.log->push_back("pre_load v" + std::to_string(v));
                       return ok();
                     })
                     .post_load([](Hooked& h) -> Result<void> {  // without the version
                       h.log->push_back("post_load");
                       return ok();
                     });
  std::vector<std::string> log;
  Hooked h{1, 2, &log};
  auto bytes = d.save(h, SaveOptions{1});
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, Bytes{1});
  Hooked out{0, 0, &log};
  ASSERT_TRUE(d.load(out, *bytes, 1));
  EXPECT_EQ(log, (std::vector<std::string>{"pre_save v1", "post_save v1", "pre_load v1",
                                           "post_load"}));
}

// ---- Receiver-side test predicates ----------------------------------------------

struct Gated {
  std::uint32_t a = 0;
  bool skip = false;  // never sent: the receiver's own setting
  std::uint32_t c = 0;
};

NativeDescription<Gated> gated_desc() {
  return describe<Gated>("gated", 1, 1)
      .field("a", &Gated::a)
      .field("c", &Gated::c, when("gated_c", [](const Gated& g) { return !g.skip; }));
}

TEST(ParityTests, PredicateOnAnUnsentMemberReadsLikeTheNativeLoad) {
  const auto d = gated_desc();
  Gated src{7, true, 9};
  auto bytes = d.save(src);
  ASSERT_TRUE(bytes);
  ASSERT_EQ(bytes->size(), 4u);
  // A destination that also skips reads four bytes on both paths.
  Gated dest{0, true, 0};
  auto decoded = decode_as(d, dest, *bytes, 1);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(*decoded, *d.to_tree(src));
  ASSERT_TRUE(d.load(dest, *bytes, 1));
  EXPECT_EQ(dest.a, 7u);
  // A destination that does not skip wants c: both paths refuse alike.
  Gated wants{0, false, 0};
  auto r = d.load(wants, *bytes, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::truncated);
  auto dr = decode_as(d, wants, *bytes, 1);
  ASSERT_FALSE(dr);
  EXPECT_EQ(dr.error().code, Errc::truncated);
  EXPECT_EQ(dr.error().field_path, r.error().field_path);
}

// ---- Bools ------------------------------------------------------------------------

struct Flags {
  std::uint16_t a = 0;
  std::array<bool, 3> flags{};
  friend bool operator==(const Flags&, const Flags&) = default;
};

TEST(ParityBool, AnyNonZeroByteIsTrueAndTheTreeKeepsTheByte) {
  const auto d = describe<Flags>("flags", 1, 1).field("a", &Flags::a).field("flags", &Flags::flags);
  const Bytes bytes = {0, 1, 1, 0, 2};
  Flags out;
  ASSERT_TRUE(d.load(out, bytes, 1));
  EXPECT_EQ(out.flags, (std::array<bool, 3>{true, false, true}));
  auto decoded = decode_as(d, Flags{}, bytes, 1);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(encode(*decoded), bytes);
  Flags via;
  ASSERT_TRUE(d.from_tree(via, *decoded, 1));
  EXPECT_EQ(via, out);
  EXPECT_EQ(*d.save(out), (Bytes{0, 1, 1, 0, 1}));  // QEMU writes 0/1
}

}  // namespace
}  // namespace statewire
