#include "statewire/vmstate_body.hpp"

#include <gtest/gtest.h>

#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

Field scalar(std::string name, FieldKind k, std::uint32_t since = 0) {
  Field f;
  f.name = std::move(name);
  f.kind = k;
  f.size = scalar_width(k);
  f.version_id = since;
  return f;
}

// A description with every field kind the body codec handles.
Description device() {
  auto entry = std::make_shared<Description>();
  entry->name = "entry";
  entry->version_id = 1;
  entry->minimum_version_id = 1;
  entry->fields = std::vector<Field>{scalar("addr", FieldKind::u64), scalar("len", FieldKind::u16)};

  Description d;
  d.name = "dev";
  d.version_id = 3;
  d.minimum_version_id = 1;
  d.fields.emplace();
  for (auto k : {FieldKind::u8, FieldKind::u16, FieldKind::u32, FieldKind::u64, FieldKind::i8,
                 FieldKind::i16, FieldKind::i32, FieldKind::i64, FieldKind::boolean, FieldKind::f64})
    d.fields->push_back(scalar(std::string(field_kind_name(k)), k));
  Field buf;
  buf.name = "mac";
  buf.kind = FieldKind::buffer;
  buf.size = 6;
  d.fields->push_back(buf);
  Field pad = buf;
  pad.name = "unused";
  pad.kind = FieldKind::unused;
  pad.size = 3;
  d.fields->push_back(pad);
  Field str;
  str.name = "label";
  str.kind = FieldKind::string;
  d.fields->push_back(str);
  Field regs = scalar("regs", FieldKind::u32);
  regs.count = Count::fixed(4);
  d.fields->push_back(regs);
  d.fields->push_back(scalar("nfilters", FieldKind::u8));
  Field filters = buf;
  filters.name = "filters";
  filters.count = Count::from("nfilters", 8);
  d.fields->push_back(filters);
  Field ring;
  ring.name = "ring";
  ring.kind = FieldKind::structure;
  ring.nested = entry;
  ring.count = Count::fixed(2);
  d.fields->push_back(ring);
  Field queue = ring;
  queue.name = "queue";
  queue.count = Count::single();
  queue.list = true;
  d.fields->push_back(queue);
  d.fields->push_back(scalar("since3", FieldKind::u16, 3));
  Field gated = scalar("gated", FieldKind::u32);
  gated.test = "has_gated";
  d.fields->push_back(gated);

  Subsection sub;
  sub.description.name = "dev/extra";
  sub.description.version_id = 2;
  sub.description.minimum_version_id = 1;
  sub.description.fields = std::vector<Field>{scalar("x", FieldKind::i32), scalar("y", FieldKind::u8, 2)};
  sub.needed = "extra_needed";
  d.subsections = std::vector<Subsection>{sub};
  return d;
}

Struct entry(std::uint64_t addr, std::uint16_t len) {
  Struct s;
  s.members = {{"addr", addr}, {"len", len}};
  return s;
}

Struct sample(bool with_gated) {
  Struct s;
  s.members = {{"u8", std::uint8_t{0xab}},
               {"u16", std::uint16_t{0x1234}},
               {"u32", std::uint32_t{0xdeadbeef}},
               {"u64", std::uint64_t{0x0102030405060708}},
               {"i8", std::int8_t{-1}},
               {"i16", std::int16_t{-300}},
               {"i32", std::int32_t{-70000}},
               {"i64", std::int64_t{-5000000000}},
               {"bool", true},
               {"f64", 2.5},
               {"mac", Blob{{0x52, 0x54, 0, 0x12, 0x34, 0x56}}},
               {"unused", Blob{{0, 0, 0}}},
               {"label", std::string("eth0")},
               {"regs", Array{ArrayLayout::plain, {std::uint32_t{1}, std::uint32_t{2}, std::uint32_t{3}, std::uint32_t{4}}, {}}},
               {"nfilters", std::uint8_t{2}},
               {"filters", Array{ArrayLayout::plain, {Blob{{1, 2, 3, 4, 5, 6}}, Blob{{6, 5, 4, 3, 2, 1}}}, {}}},
               {"ring", Array{ArrayLayout::plain, {entry(0x1000, 64), entry(0x2000, 1500)}, {}}},
               {"queue", Array{ArrayLayout::marker_list, {entry(7, 8)}, {}}},
               {"since3", std::uint16_t{33}}};
  if (with_gated) s.members.push_back({"gated", std::uint32_t{99}});
  SubsectionState sub{"dev/extra", 2, {}};
  sub.body.members = {{"x", std::int32_t{-2}}, {"y", std::uint8_t{5}}};
  s.subsections.push_back(sub);
  return s;
}

TestResolver gate_on_u8() {
  TestResolver t;
  t["has_gated"] = [](const Struct& partial, std::uint32_t) -> std::optional<bool> {
    const Value* v = partial.find("u8");
    std::uint64_t x = 0;
    if (!v || !v->as_u64(x)) return std::nullopt;
    return x == 0xab;
  };
  return t;
}

Bytes encode(const Struct& s) {
  ByteWriter w;
  EXPECT_TRUE(encode_body(s, w));
  return std::move(w).take();
}

TEST(VmstateBody, EveryFieldKindRoundTrips) {
  Description d = device();
  Struct s = sample(true);
  Bytes bytes = encode(s);
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(bytes);
  auto back = decode_body(d, cur, 3, opt);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, s);
  EXPECT_TRUE(cur.empty());
  EXPECT_EQ(encode(*back), bytes);
}

TEST(VmstateBody, WireLayoutIsBigEndianWithoutTags) {
  Struct s;
  s.members = {{"a", std::uint16_t{0x0102}}, {"b", std::int32_t{-2}}, {"c", true}};
  s.subsections.push_back({"d/s", 7, {}});
  Bytes expected = {0x01, 0x02, 0xff, 0xff, 0xff, 0xfe, 0x01,
                    0x05, 0x03, 'd', '/', 's', 0, 0, 0, 7};
  EXPECT_EQ(encode(s), expected);
}

TEST(VmstateBody, FieldsNewerThanTheIncomingVersionAreNotRead) {
  Description d = device();
  Struct s = sample(true);
  s.members.erase(s.members.begin() + 18);  // since3 does not exist at version 2
  Bytes bytes = encode(s);
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(bytes);
  auto back = decode_body(d, cur, 2, opt);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->find("since3"), nullptr);
  EXPECT_EQ(*back, s);
}

TEST(VmstateBody, TestGatedFieldFollowsItsPredicate) {
  Description d = device();
  Struct s = sample(false);
  s.members[0].value = std::uint8_t{0};  // predicate false: "gated" not sent
  Bytes bytes = encode(s);
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(bytes);
  auto back = decode_body(d, cur, 3, opt);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, s);
}

TEST(VmstateBody, UndecidableTestIsAnErrorNamingTheField) {
  Bytes bytes = encode(sample(true));
  Cursor cur(bytes);
  auto back = decode_body(device(), cur, 3);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::unsupported);
  EXPECT_EQ(back.error().field_path, "gated");
}

TEST(VmstateBody, VersionOutsideTheRangeIsRefused) {
  Bytes bytes = encode(sample(true));
  Cursor cur(bytes);
  auto too_new = decode_body(device(), cur, 4);
  ASSERT_FALSE(too_new);
  EXPECT_EQ(too_new.error().code, Errc::version_too_new);
  EXPECT_EQ(too_new.error().section, "dev");
  auto too_old = decode_body(device(), cur, 0);
  ASSERT_FALSE(too_old);
  EXPECT_EQ(too_old.error().code, Errc::version_too_old);
}

TEST(VmstateBody, SubsectionVersionIsChecked) {
  Struct s = sample(true);
  s.subsections[0].version_id = 3;  // local dev/extra is version 2
  Bytes bytes = encode(s);
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(bytes);
  auto back = decode_body(device(), cur, 3, opt);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::version_too_new);
  EXPECT_EQ(back.error().section, "dev/extra");
}

TEST(VmstateBody, UnknownSubsectionOfOursFailsLoudly) {
  Struct s = sample(true);
  s.subsections.push_back({"dev/brand_new", 1, {}});
  Bytes bytes = encode(s);
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(bytes);
  auto back = decode_body(device(), cur, 3, opt);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::unknown_subsection);
  EXPECT_NE(back.error().message.find("dev/brand_new"), std::string::npos);
}

TEST(VmstateBody, ForeignSubsectionEndsTheBody) {
  Struct s = sample(true);
  Bytes bytes = encode(s);
  Bytes foreign = {0x05, 0x05, 'o', 't', 'h', 'e', 'r', 0, 0, 0, 1};
  bytes.insert(bytes.end(), foreign.begin(), foreign.end());
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(bytes);
  auto back = decode_body(device(), cur, 3, opt);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(cur.remaining(), foreign.size());
}

TEST(VmstateBody, LengthFieldAboveItsMaximumIsRefusedBeforeReading) {
  Struct s = sample(true);
  s.members[14].value = std::uint8_t{200};
  Bytes bytes = encode(s);
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  Cursor cur(bytes);
  auto back = decode_body(device(), cur, 3, opt);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::limit_exceeded);
  EXPECT_EQ(back.error().field_path, "filters");
}

TEST(VmstateBody, NonZeroListMarkersAndBoolBytesAreKeptAsRead) {
  Description d;
  d.name = "l";
  d.version_id = 1;
  Field q;
  q.name = "q";
  q.kind = FieldKind::u8;
  q.list = true;
  d.fields = std::vector<Field>{q};
  // QEMU continues a list on any non-zero byte.
  Bytes bytes = {0x01, 0x07, 0x02, 0x08, 0x00};
  Cursor cur(bytes);
  auto r = decode_body(d, cur, 1);
  ASSERT_TRUE(r) << r.error().to_string();
  const Array* a = r->members[0].value.get_if<Array>();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->items.size(), 2u);
  EXPECT_EQ(a->markers, (std::vector<std::uint8_t>{0x01, 0x02}));
  EXPECT_EQ(encode(*r), bytes);
  Bytes unended = {0x01, 0x07, 0x02};
  Cursor cu(unended);
  auto ru = decode_body(d, cu, 1);
  ASSERT_FALSE(ru);
  EXPECT_EQ(ru.error().code, Errc::truncated);

  Description b;
  b.name = "b";
  b.version_id = 1;
  b.fields = std::vector<Field>{scalar("flag", FieldKind::boolean)};
  Bytes two = {0x02};
  Cursor c2(two);
  auto r2 = decode_body(b, c2, 1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->members[0].value, Value(std::uint8_t{2}));
  EXPECT_EQ(encode(*r2), two);
}

TEST(VmstateBody, EveryTruncationIsAnErrorNamingAField) {
  Struct s = sample(true);
  s.subsections.clear();  // a cut inside a subsection can look like "no subsection"
  Bytes bytes = encode(s);
  TestResolver tests = gate_on_u8();
  BodyDecodeOptions opt;
  opt.tests = &tests;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Cursor cur(ByteSpan(bytes.data(), n), 100);
    auto r = decode_body(device(), cur, 3, opt);
    ASSERT_FALSE(r) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().code, Errc::truncated) << n;
    EXPECT_FALSE(r.error().field_path.empty()) << n;
    ASSERT_TRUE(r.error().offset.has_value());
    EXPECT_LE(*r.error().offset, 100 + n);
  }
}

TEST(VmstateBody, ErrorPathNamesArrayElementAndNestedField) {
  Bytes bytes = encode(sample(true));
  // Cut inside ring[1].len.
  Bytes cut(bytes.begin(), bytes.begin() + 1 + 2 + 4 + 8 + 1 + 2 + 4 + 8 + 1 + 8 + 6 + 3 + 8 +
                               16 + 1 + 12 + 10 + 8 + 1);
  Cursor cur(cut);
  auto r = decode_body(device(), cur, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field_path, "ring[1].len");
}

TEST(VmstateBody, HugeCountsFailWithoutAllocating) {
  Description d;
  d.name = "h";
  d.version_id = 1;
  d.fields = std::vector<Field>{scalar("n", FieldKind::u32)};
  Field arr = scalar("a", FieldKind::u64);
  arr.count = Count::from("n", 0);  // no declared bound: the input size bounds it
  d.fields->push_back(arr);
  Bytes bytes = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  Cursor cur(bytes);
  auto r = decode_body(d, cur, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
}

TEST(VmstateBody, DecodesRealSerialStateWithSchemaFromQemuDump) {
  // The isa-serial section of a real QEMU 7.2 stream, located by its header.
  auto set = load_schema_file((testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
  ASSERT_TRUE(set);
  const DeviceSchema* isa_serial = set->find_device("isa-serial");
  ASSERT_NE(isa_serial, nullptr);
  const Description* serial = &isa_serial->description;
  Bytes stream = testing::read_bytes(testing::corpus_dir() / "isapc-ne2k-paused.mig");
  const std::string id = "serial";
  std::size_t at = std::string::npos;
  for (std::size_t i = 0; i + 20 < stream.size(); ++i) {
    if (stream[i] == 0x04 && stream[i + 5] == id.size() &&
        std::equal(id.begin(), id.end(), stream.begin() + static_cast<long>(i) + 6)) {
      at = i;
      break;
    }
  }
  ASSERT_NE(at, std::string::npos);
  std::size_t body = at + 1 + 4 + 1 + id.size() + 4 + 4;
  std::uint32_t version = stream[body - 1];
  Cursor cur(ByteSpan(stream).subspan(body), body);
  auto r = decode_body(*serial, cur, version);
  ASSERT_TRUE(r) << r.error().to_string();
  // The footer follows the body directly: 0x7e + the section id.
  ASSERT_GE(cur.remaining(), 5u);
  auto next = cur.read_u8();
  EXPECT_EQ(*next, 0x7e);
  const Value* state = r->find("state");
  ASSERT_NE(state, nullptr);
  ASSERT_NE(state->get_if<Struct>(), nullptr);
  // A 16550 after reset: divider 0x0c (9600 baud), LSR 0x60 (transmitter empty).
  EXPECT_EQ(*state->get_if<Struct>()->find("divider")->get_if<Blob>(), (Blob{{0x00, 0x0c}}));
  EXPECT_EQ(*state->get_if<Struct>()->find("lsr")->get_if<Blob>(), (Blob{{0x60}}));
  ByteWriter w;
  ASSERT_TRUE(encode_body(*r, w));
  EXPECT_TRUE(std::equal(w.bytes().begin(), w.bytes().end(), stream.begin() + static_cast<long>(body)));
}

}  // namespace
}  // namespace statewire
