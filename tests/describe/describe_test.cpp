// Native descriptions: every field kind through save/load/to_tree/from_tree,
// the bytes against the schema-driven body codec, versions, tests,
// subsections, hooks and the errors of hostile or mismatched input.
#include "statewire/describe.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "statewire/schema_json.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {
namespace {

enum class Mode : std::uint16_t { off = 0, on = 0x0102 };

struct Inner {
  std::uint16_t a = 0;
  std::int32_t b = 0;
  friend bool operator==(const Inner&, const Inner&) = default;
};

struct AllKinds {
  std::uint8_t u8 = 0;
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  std::uint64_t u64 = 0;
  std::int8_t i8 = 0;
  std::int16_t i16 = 0;
  std::int32_t i32 = 0;
  std::int64_t i64 = 0;
  bool flag = false;
  double real = 0;
  Mode mode = Mode::off;
  std::array<std::uint32_t, 3> fixed{};
  std::int16_t carr[2] = {0, 0};
  std::array<std::uint8_t, 4> buf{};
  std::string text;
  std::uint16_t n = 0;
  std::array<std::uint64_t, 8> var{};
  std::uint8_t m = 0;
  std::vector<std::int32_t> vvec;
  std::uint32_t nbuf = 0;
  std::array<std::array<std::uint8_t, 3>, 4> bufs{};
  Inner inner;
  std::array<Inner, 2> inners{};
  std::int32_t ni = 0;
  std::vector<Inner> vinners;
  std::array<std::string, 2> strs;
  std::uint32_t newer = 0;   // since 2
  std::uint8_t gated = 0;    // test: flag set
  std::uint32_t extra = 0;   // subsection all/extra
  friend bool operator==(const AllKinds&, const AllKinds&) = default;
};

const NativeDescription<Inner>& inner_desc() {
  static const auto d = describe<Inner>("inner", 1, 1).field("a", &Inner::a).field("b", &Inner::b);
  return d;
}

NativeDescription<AllKinds> all_desc() {
  return describe<AllKinds>("all", 2, 1)
      .field("u8", &AllKinds::u8)
      .field("u16", &AllKinds::u16)
      .field("u32", &AllKinds::u32)
      .field("u64", &AllKinds::u64)
      .field("i8", &AllKinds::i8)
      .field("i16", &AllKinds::i16)
      .field("i32", &AllKinds::i32)
      .field("i64", &AllKinds::i64)
      .field("flag", &AllKinds::flag)
      .field("real", &AllKinds::real)
      .field("mode", &AllKinds::mode)
      .field("fixed", &AllKinds::fixed)
      .field("carr", &AllKinds::carr)
      .buffer("buf", &AllKinds::buf)
      .field("text", &AllKinds::text)
      .field("n", &AllKinds::n)
      .varray("var", &AllKinds::var, &AllKinds::n, 8)
      .field("m", &AllKinds::m)
      .varray("vvec", &AllKinds::vvec, &AllKinds::m, 10)
      .field("nbuf", &AllKinds::nbuf)
      .varray("bufs", &AllKinds::bufs, &AllKinds::nbuf, 4)
      .structure("inner", &AllKinds::inner, inner_desc())
      .structure("inners", &AllKinds::inners, inner_desc())
      .field("ni", &AllKinds::ni)
      .struct_varray("vinners", &AllKinds::vinners, &AllKinds::ni, 5, inner_desc())
      .field("strs", &AllKinds::strs)
      .unused(3)
      .field("newer", &AllKinds::newer, since(2))
      .field("gated", &AllKinds::gated, when("all_flag", [](const AllKinds& k) { return k.flag; }))
      .subsection(describe<AllKinds>("all/extra", 1, 1).field("extra", &AllKinds::extra),
                  "all_extra_needed", [](const AllKinds& k) { return k.extra != 0; });
}

AllKinds sample() {
  AllKinds k;
  k.u8 = 0xfe;
  k.u16 = 0xbeef;
  k.u32 = 0xdeadbeef;
  k.u64 = 0x0123456789abcdefull;
  k.i8 = -5;
  k.i16 = -300;
  k.i32 = -70000;
  k.i64 = -(1ll << 40);
  k.flag = true;
  k.real = -0.1;
  k.mode = Mode::on;
  k.fixed = {1, 2, 3};
  k.carr[0] = -1;
  k.carr[1] = 7;
  k.buf = {9, 8, 7, 6};
  k.text = "hello, state";
  k.n = 3;
  k.var = {11, 22, 33, 0, 0, 0, 0, 0};
  k.m = 2;
  k.vvec = {-1, 1};
  k.nbuf = 2;
  k.bufs[0] = {1, 2, 3};
  k.bufs[1] = {4, 5, 6};
  k.inner = {0x1111, -2};
  k.inners = {Inner{1, 2}, Inner{3, 4}};
  k.ni = 3;
  k.vinners = {Inner{5, 6}, Inner{7, 8}, Inner{9, 10}};
  k.strs = {"", "two"};
  k.newer = 77;
  k.gated = 0x42;
  k.extra = 0xcafe;
  return k;
}

TEST(Describe, RoundTripsEveryFieldKind) {
  const auto d = all_desc();
  const AllKinds in = sample();
  auto bytes = d.save(in);
  ASSERT_TRUE(bytes) << bytes.error().to_string();
  AllKinds out;
  auto r = d.load(out, *bytes, 2);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(out, in);
}

TEST(Describe, WritesQemuVmStateLayout) {
  struct Small {
    std::uint16_t a = 0x1234;
    bool b = true;
    std::string s = "ab";
    double f = 1.0;
    std::uint8_t n = 2;
    std::array<std::int16_t, 3> v{-2, 3, 9};
  };
  const auto d = describe<Small>("small", 1, 1)
                     .field("a", &Small::a)
                     .field("b", &Small::b)
                     .field("s", &Small::s)
                     .field("f", &Small::f)
                     .field("n", &Small::n)
                     .varray("v", &Small::v, &Small::n, 3);
  auto bytes = d.save(Small{});
  ASSERT_TRUE(bytes);
  const Bytes expected = {0x12, 0x34, 0x01, 0, 0, 0, 2, 'a', 'b', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                          0x02, 0xff, 0xfe, 0x00, 0x03};
  EXPECT_EQ(*bytes, expected);
}

TEST(Describe, SavedBytesEqualEncodedTree) {
  const auto d = all_desc();
  auto bytes = d.save(sample());
  auto tree = d.to_tree(sample());
  ASSERT_TRUE(bytes && tree);
  ByteWriter w;
  ASSERT_TRUE(encode_body(*tree, w));
  EXPECT_EQ(Bytes(w.bytes().begin(), w.bytes().end()), *bytes);
}

TEST(Describe, TreeFromObjectEqualsTreeDecodedFromItsBytes) {
  const auto d = all_desc();
  for (bool flag : {true, false}) {
    AllKinds k = sample();
    k.flag = flag;
    auto bytes = d.save(k);
    auto tree = d.to_tree(k);
    ASSERT_TRUE(bytes && tree);
    const TestResolver tests = d.test_resolver();
    BodyDecodeOptions opt;
    opt.tests = &tests;
    Cursor cur(*bytes);
    auto decoded = decode_body(d.schema(), cur, 2, opt);
    ASSERT_TRUE(decoded) << decoded.error().to_string();
    EXPECT_TRUE(cur.empty());
    EXPECT_EQ(*decoded, *tree) << to_text(*decoded) << "\nvs\n" << to_text(*tree);
    EXPECT_EQ(tree->find("gated") != nullptr, flag);
  }
}

TEST(Describe, FromTreeRebuildsTheObject) {
  const auto d = all_desc();
  auto tree = d.to_tree(sample());
  ASSERT_TRUE(tree);
  AllKinds out;
  auto r = d.from_tree(out, *tree, 2);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(out, sample());
}

TEST(Describe, FromTreeRejectsWrongKindNamingTheField) {
  const auto d = all_desc();
  auto tree = d.to_tree(sample());
  ASSERT_TRUE(tree);
  auto* arr = tree->find("inners")->get_if<Array>();
  arr->items[1].get_if<Struct>()->find("b")->v = std::uint32_t{4};
  AllKinds out = sample();
  out.u8 = 1;
  auto r = d.from_tree(out, *tree, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  EXPECT_EQ(r.error().field_path, "inners[1].b");
  EXPECT_EQ(r.error().section, "all");
  EXPECT_EQ(out.u8, 1) << "a failed from_tree must not change the object";
}

TEST(Describe, OlderTargetVersionOmitsNewerFieldsAndLoadsWithDefaults) {
  const auto d = all_desc();
  AllKinds k = sample();
  auto v2 = d.save(k);
  auto v1 = d.save(k, SaveOptions{1});
  ASSERT_TRUE(v1 && v2);
  EXPECT_EQ(v1->size() + 4, v2->size());  // `newer` is a u32 since version 2
  AllKinds out;
  out.newer = 5;
  ASSERT_TRUE(d.load(out, *v1, 1));
  EXPECT_EQ(out.newer, 5u) << "a field the version lacks keeps its value";
  out.newer = k.newer;
  EXPECT_EQ(out, k);
}

TEST(Describe, EveryProperPrefixIsAnErrorNamingAFieldOrTheTail) {
  const auto d = all_desc();
  AllKinds k = sample();
  auto full = d.save(k);
  k.extra = 0;
  auto fields_only = d.save(k);
  ASSERT_TRUE(full && fields_only);
  for (std::size_t len = 0; len < full->size(); ++len) {
    AllKinds out;
    auto r = d.load(out, ByteSpan(full->data(), len), 2);
    if (len == fields_only->size()) {
      EXPECT_TRUE(r) << "the body without its optional subsection is valid";
      continue;
    }
    ASSERT_FALSE(r) << "prefix of " << len << " bytes";
    EXPECT_EQ(r.error().section, "all");
    EXPECT_TRUE(r.error().offset.has_value());
    if (len < fields_only->size()) {
      EXPECT_EQ(r.error().code, Errc::truncated) << r.error().to_string();
      EXPECT_FALSE(r.error().field_path.empty());
    }
    EXPECT_EQ(out, AllKinds{}) << "a failed load must not change the object";
  }
}

TEST(Describe, TruncatedBodyNamesFieldPathAndOffset) {
  const auto d = describe<AllKinds>("all", 1, 1)
                     .field("u32", &AllKinds::u32)
                     .structure("inners", &AllKinds::inners, inner_desc());
  auto bytes = d.save(sample());
  ASSERT_TRUE(bytes);
  ASSERT_EQ(bytes->size(), 4u + 12u);
  AllKinds out;
  auto r = d.load(out, ByteSpan(bytes->data(), 4 + 6 + 2 + 1), 1);  // inside inners[1].b
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_EQ(r.error().section, "all");
  EXPECT_EQ(r.error().field_path, "inners[1].b");
  EXPECT_EQ(r.error().offset, 12u);
}

TEST(Describe, RejectsTooNewAndTooOldVersionsNamingTheSection) {
  const auto d = all_desc();
  auto bytes = d.save(sample());
  ASSERT_TRUE(bytes);
  AllKinds out;
  auto r = d.load(out, *bytes, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::version_too_new);
  EXPECT_EQ(r.error().section, "all");
  r = d.load(out, *bytes, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::version_too_old);
  EXPECT_EQ(r.error().section, "all");
}

TEST(Describe, VarrayCountAboveItsBoundIsRefusedOnLoadAndSave) {
  struct V {
    std::uint8_t n = 0;
    std::array<std::uint8_t, 4> a{};
  };
  const auto d = describe<V>("v", 1, 1).field("n", &V::n).varray("a", &V::a, &V::n, 4);
  const Bytes hostile = {5, 1, 2, 3, 4, 5};
  V out;
  auto r = d.load(out, hostile, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().field_path, "a");
  EXPECT_EQ(r.error().section, "v");
  V bad;
  bad.n = 5;
  auto s = d.save(bad);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::limit_exceeded);
  EXPECT_EQ(s.error().field_path, "a");
}

TEST(Describe, HugeVectorCountIsRefusedBeforeAllocating) {
  struct V {
    std::uint32_t n = 0;
    std::vector<std::uint64_t> a;
  };
  const auto d = describe<V>("v", 1, 1).field("n", &V::n).varray("a", &V::a, &V::n, 1u << 30);
  const Bytes hostile = {0x00, 0x10, 0x00, 0x00, 1, 2, 3};  // 1 Mi elements, 3 bytes
  V out;
  auto r = d.load(out, hostile, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_EQ(r.error().field_path, "a");
  EXPECT_TRUE(out.a.empty());
}

TEST(Describe, FailingHooksNameSectionAndHookAndLeaveObjectUnchanged) {
  struct H {
    std::uint32_t x = 0;
  };
  const auto d = describe<H>("hooked", 1, 1)
                     .field("x", &H::x)
                     .pre_save([](const H& h) -> Result<void> {
                       if (h.x == 13) return fail(Errc::invalid_value, "unlucky");
                       return {};
                     })
                     .post_load([](H& h, std::uint32_t) -> Result<void> {
                       if (h.x > 100) return fail(Errc::invalid_value, "x out of range");
                       return {};
                     });
  ByteWriter w;
  w.put_u8(0xaa);
  auto s = d.save(H{13}, w);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::hook_failed);
  EXPECT_EQ(s.error().section, "hooked");
  EXPECT_NE(s.error().message.find("pre_save"), std::string::npos);
  EXPECT_EQ(w.size(), 1u) << "a failed save appends nothing";

  auto bytes = d.save(H{101});
  ASSERT_TRUE(bytes);
  H out{7};
  auto r = d.load(out, *bytes, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::hook_failed);
  EXPECT_EQ(r.error().section, "hooked");
  EXPECT_NE(r.error().message.find("post_load"), std::string::npos);
  EXPECT_EQ(out.x, 7u);
}

TEST(Describe, ReadsAnyNonZeroBoolByteAsTrueLikeQemu) {
  struct B {
    std::uint16_t a = 0;
    std::array<bool, 3> flags{};
  };
  const auto d = describe<B>("b", 1, 1).field("a", &B::a).field("flags", &B::flags);
  const Bytes bytes = {0, 1, 1, 0, 2};
  B out;
  ASSERT_TRUE(d.load(out, bytes, 1));
  EXPECT_EQ(out.flags, (std::array<bool, 3>{true, false, true}));
  Cursor cur(bytes);
  auto tree = decode_body(d.schema(), cur, 1);
  ASSERT_TRUE(tree);
  // The tree keeps the byte itself, so it encodes back to the input.
  EXPECT_EQ(tree->members[1].value.get_if<Array>()->items[2], Value(std::uint8_t{2}));
}

TEST(Describe, HooksRunAroundFieldsAndSubsectionsInQemuOrder) {
  struct H {
    std::uint32_t x = 0;
    std::uint32_t sub = 0;
    std::vector<std::string>* log = nullptr;
  };
  auto logger = [](const char* what) {
    return [what](const H& h) -> Result<void> {
      h.log->push_back(what);
      return {};
    };
  };
  const auto sub = describe<H>("h/sub", 1, 1)
                       .field("sub", &H::sub)
                       .pre_save(logger("sub.pre_save"))
                       .post_load([](H& h, std::uint32_t) -> Result<void> {
                         h.log->push_back("sub.post_load");
                         return {};
                       });
  const auto d = describe<H>("h", 1, 1)
                     .field("x", &H::x)
                     .subsection(sub, "h_sub_needed", [](const H& h) { return h.sub != 0; })
                     .pre_save(logger("pre_save"))
                     .post_save(logger("post_save"))
                     .pre_load([](H& h) -> Result<void> {
                       h.log->push_back("pre_load");
                       h.x = 99;  // overwritten by the field
                       return {};
                     })
                     .post_load([](H& h, std::uint32_t version) -> Result<void> {
                       h.log->push_back(fmt::format("post_load v{} x={}", version, h.x));
                       return {};
                     });
  std::vector<std::string> log;
  H h{5, 6, &log};
  auto bytes = d.save(h);
  ASSERT_TRUE(bytes);
  H out{0, 0, &log};
  ASSERT_TRUE(d.load(out, *bytes, 1));
  EXPECT_EQ(out.sub, 6u);
  const std::vector<std::string> want = {"pre_save",      "sub.pre_save",
                                         "post_save",     "pre_load",
                                         "sub.post_load", "post_load v1 x=5"};
  EXPECT_EQ(log, want);
}

TEST(Describe, VectorShorterThanItsCountIsRefusedOnSave) {
  AllKinds k = sample();
  k.m = 3;  // vvec holds 2
  auto r = all_desc().save(k);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().field_path, "vvec");
}

TEST(Describe, FromTreeOfAnOlderVersionKeepsNewerFields) {
  const auto d = all_desc();
  auto tree = d.to_tree(sample(), SaveOptions{1});
  ASSERT_TRUE(tree);
  EXPECT_EQ(tree->find("newer"), nullptr);
  AllKinds out;
  out.newer = 123;
  ASSERT_TRUE(d.from_tree(out, *tree, 1));
  EXPECT_EQ(out.newer, 123u);
  auto wrong = d.from_tree(out, *tree, 2);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::mismatch);
  EXPECT_EQ(wrong.error().field_path, "newer");
}

TEST(Describe, UnknownSubsectionIsAnError) {
  const auto d = all_desc();
  auto bytes = d.save(sample());
  ASSERT_TRUE(bytes);
  // Rename "all/extra" to "all/extrb": same prefix, unknown name.
  Bytes b = *bytes;
  const std::string name = "all/extra";
  auto it = std::search(b.begin(), b.end(), name.begin(), name.end());
  ASSERT_NE(it, b.end());
  it[8] = 'b';
  AllKinds out;
  auto r = d.load(out, b, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unknown_subsection);
}

TEST(Describe, SubsectionVersionTooNewIsAnError) {
  const auto d = all_desc();
  auto bytes = d.save(sample());
  ASSERT_TRUE(bytes);
  Bytes b = *bytes;
  const std::string name = "all/extra";
  auto it = std::search(b.begin(), b.end(), name.begin(), name.end());
  ASSERT_NE(it, b.end());
  it[name.size() + 3] = 2;  // be32 version 1 -> 2
  AllKinds out;
  auto r = d.load(out, b, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::version_too_new);
  EXPECT_NE(r.error().message.find("all/extra"), std::string::npos);
}

TEST(Describe, TestGatedFieldFollowsItsPredicate) {
  const auto d = all_desc();
  AllKinds k = sample();
  auto with = d.save(k);
  k.flag = false;
  auto without = d.save(k);
  ASSERT_TRUE(with && without);
  EXPECT_EQ(with->size(), without->size() + 1);
  AllKinds out;
  ASSERT_TRUE(d.load(out, *without, 2));
  EXPECT_EQ(out.gated, 0);
}

TEST(Describe, SchemaExportsInDumpShapeAndLoadsBack) {
  const auto d = all_desc();
  const Description& s = d.schema();
  EXPECT_EQ(s.name, "all");
  EXPECT_EQ(s.version_id, 2u);
  EXPECT_EQ(s.minimum_version_id, 1u);
  const Field* inners = s.find_field("inners");
  ASSERT_TRUE(inners && inners->nested);
  EXPECT_EQ(inners->kind, FieldKind::structure);
  EXPECT_EQ(inners->size, sizeof(Inner));
  EXPECT_EQ(inners->count, Count::fixed(2));
  EXPECT_EQ(s.find_field("var")->count, Count::from("n", 8));
  EXPECT_EQ(s.find_field("bufs")->size, 3u);
  EXPECT_EQ(s.find_field("bufs")->kind, FieldKind::buffer);
  EXPECT_EQ(s.find_field("buf")->size, 4u);
  EXPECT_EQ(s.find_field("u64")->size, 8u);
  EXPECT_EQ(s.find_field("mode")->kind, FieldKind::u16);
  EXPECT_EQ(s.find_field("newer")->version_id, 2u);
  EXPECT_EQ(s.find_field("gated")->test, std::optional<std::string>("all_flag"));
  ASSERT_EQ(s.subsection_list().size(), 1u);
  EXPECT_EQ(s.subsection_list()[0].needed, "all_extra_needed");

  SchemaSet set;
  set.devices.push_back({"all-kinds", "all-kinds", 2, 1, s});
  auto back = parse_schema_json(to_schema_json(set, SchemaJsonOptions{true}));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, set);
  // QEMU's own shape keeps names, versions, sizes and nesting.
  auto plain = parse_schema_json(to_schema_json(set));
  ASSERT_TRUE(plain);
  const Description& p = plain->devices[0].description;
  EXPECT_EQ(p.field_list().size(), s.field_list().size());
  EXPECT_EQ(p.find_field("inners")->size, sizeof(Inner));
  EXPECT_TRUE(p.find_field("gated")->has_test());
}

TEST(Describe, CountMemberNotDescribedEarlierIsReportedAsMisuse) {
  struct V {
    std::uint8_t n = 0;
    std::array<std::uint8_t, 4> a{};
  };
  const auto d = describe<V>("v", 1, 1).varray("a", &V::a, &V::n, 4);
  auto r = d.save(V{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::schema_invalid);
  V out;
  EXPECT_EQ(d.load(out, Bytes{}, 1).error().code, Errc::schema_invalid);
}

}  // namespace
}  // namespace statewire
