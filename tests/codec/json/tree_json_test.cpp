#include "statewire/tree_json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "statewire/tree_diff.hpp"

namespace statewire {
namespace {

// A tree holding every kind of value at its extremes.
StateStream every_kind() {
  Struct inner;
  inner.members.push_back({"addr", std::uint64_t{0xffffffffffffffffull}});
  inner.members.push_back({"len", std::uint16_t{1500}});
  Struct body;
  body.members.push_back({"u8", std::uint8_t{255}});
  body.members.push_back({"u16", std::uint16_t{65535}});
  body.members.push_back({"u32", std::uint32_t{4294967295u}});
  body.members.push_back({"u64", std::uint64_t{18446744073709551615ull}});
  body.members.push_back({"i8", std::int8_t{-128}});
  body.members.push_back({"i16", std::int16_t{-32768}});
  body.members.push_back({"i32", std::int32_t{std::numeric_limits<std::int32_t>::min()}});
  body.members.push_back({"i64", std::int64_t{std::numeric_limits<std::int64_t>::min()}});
  body.members.push_back({"flag", true});
  body.members.push_back({"pi", 3.141592653589793});
  body.members.push_back({"negzero", -0.0});
  body.members.push_back({"nan", std::numeric_limits<double>::quiet_NaN()});
  body.members.push_back({"inf", -std::numeric_limits<double>::infinity()});
  body.members.push_back({"unused", Blob{{0, 1, 2, 0xfe, 0xff}}});
  body.members.push_back({"unused", Blob{}});
  body.members.push_back({"name", std::string("eth0 \"q\"")});
  body.members.push_back({"regs", Array{ArrayLayout::plain, {std::uint32_t{1}, std::uint32_t{2}}, {}}});
  body.members.push_back({"ring", Array{ArrayLayout::marker_list, {inner, inner}, {}}});
  body.members.push_back({"ptrs", Array{ArrayLayout::plain, {Null{}, inner}, {}}});
  body.members.push_back({"nested", inner});
  SubsectionState sub{"dev/extra", 2, {}};
  sub.body.members.push_back({"x", std::int32_t{-5}});
  sub.body.subsections.push_back({"dev/extra/deeper", 1, inner});
  body.subsections.push_back(sub);
  StateStream s;
  s.sections.push_back({SectionKind::full, 0, "dev", 1, 7, body});
  s.sections.push_back({SectionKind::part, 2, "ram", 0, 4, {}});
  return s;
}

TEST(TreeJson, RoundTripIsIdentityForEveryKind) {
  StateStream s = every_kind();
  for (int indent : {-1, 1}) {
    auto back = stream_from_json(to_json(s, TreeJsonOptions{indent}));
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_EQ(*back, s);
    EXPECT_TRUE(diff(*back, s).empty());
  }
}

TEST(TreeJson, ListMarkersAndGtreesRoundTrip) {
  Struct node;
  node.members.push_back({"key", std::uint64_t{5}});
  node.members.push_back({"value", Struct{}});
  Array list{ArrayLayout::marker_list, {std::uint8_t{1}, std::uint8_t{2}}, {0x02, 0xff}};
  Array tree{ArrayLayout::gtree, {node}, {}};
  StateStream s;
  Section sec;
  sec.name = "dev";
  sec.body.members = {{"q", list}, {"t", tree}};
  s.sections.push_back(sec);
  auto back = stream_from_json(to_json(s));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, s);
  // A 0x00 marker would end the list: refused.
  std::string bad = to_json(s);
  const auto at = bad.find("255");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 3, "0");
  EXPECT_FALSE(stream_from_json(bad));
}

TEST(TreeJson, DoublesAreBitExact) {
  auto back = stream_from_json(to_json(every_kind()));
  ASSERT_TRUE(back);
  const Value* nz = back->sections[0].body.find("negzero");
  ASSERT_NE(nz, nullptr);
  EXPECT_TRUE(std::signbit(*nz->get_if<double>()));
  EXPECT_TRUE(std::isnan(*back->sections[0].body.find("nan")->get_if<double>()));
}

TEST(TreeJson, RejectsValueThatDoesNotFitItsWidth) {
  auto r = stream_from_json(R"({"sections": [{"name": "d", "instance_id": 0, "version_id": 1,
      "fields": [{"n": "a", "t": "u8", "v": 256}]}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().field_path, "d/0.a.v");
}

TEST(TreeJson, RejectsUnknownTypeAndBadHex) {
  EXPECT_FALSE(stream_from_json(R"({"sections": [{"name": "d", "instance_id": 0, "version_id": 1,
      "fields": [{"n": "a", "t": "u128", "v": 1}]}]})"));
  EXPECT_FALSE(stream_from_json(R"({"sections": [{"name": "d", "instance_id": 0, "version_id": 1,
      "fields": [{"n": "a", "t": "blob", "v": "0g"}]}]})"));
  EXPECT_FALSE(stream_from_json(R"({"sections": [{"name": "d", "instance_id": 0, "version_id": 1,
      "fields": [{"n": "a", "t": "blob", "v": "012"}]}]})"));
  EXPECT_FALSE(stream_from_json("not json"));
  EXPECT_FALSE(stream_from_json(R"({"sections": 1})"));
}

TEST(TreeDiff, ReportsEveryDifferenceWithItsPath) {
  StateStream a = every_kind();
  StateStream b = a;
  *b.sections[0].body.find("u16") = std::uint16_t{7};
  b.sections[0].body.find("regs")->get_if<Array>()->items[1] = std::uint32_t{9};
  b.sections[0].body.subsections[0].body.members[0].value = std::int32_t{6};
  *b.sections[0].body.find("u8") = std::uint16_t{255};  // same number, other width
  auto d = diff(a, b);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].path, "dev/1:u8");
  EXPECT_EQ(d[1].path, "dev/1:u16");
  EXPECT_EQ(d[2].path, "dev/1:regs[1]");
  EXPECT_EQ(d[3].path, "dev/1:dev/extra.x");
}

TEST(TreeDiff, ReportsSubsectionSentOnOneSideOnly) {
  StateStream a = every_kind();
  StateStream b = a;
  b.sections[0].body.subsections.clear();
  auto d = diff(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].what, "subsection only in left");
}

TEST(TreeText, PrintsNamesKindsAndSubsections) {
  std::string t = to_text(every_kind());
  EXPECT_NE(t.find("section dev instance 1 version 7"), std::string::npos);
  EXPECT_NE(t.find("u16 (u16) = 0xffff"), std::string::npos);
  EXPECT_NE(t.find("subsection dev/extra v2"), std::string::npos);
}

}  // namespace
}  // namespace statewire
