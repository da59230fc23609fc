// Integers in the tree JSON as common tools leave them: 64-bit values a
// double cannot hold survive jq 1.6 (written as "0x..." strings), and
// "0x..." or decimal strings are accepted for any integer, range-checked.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>

#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

StateStream with(Value v) {
  StateStream s;
  Section sec;
  sec.name = "dev";
  sec.body.members.push_back({"x", std::move(v)});
  s.sections.push_back(std::move(sec));
  return s;
}

std::string with_json(const std::string& type, const std::string& v) {
  return R"({"sections": [{"name": "dev", "instance_id": 0, "version_id": 1, "fields": [{"n": "x", "t": ")" +
         type + R"(", "v": )" + v + "}]}]}";
}

TEST(TreeJsonIntegers, ValuesBeyondTwoToTheFiftyThreeSurviveJq) {
  if (testing::run("jq --version").exit_code != 0) GTEST_SKIP() << "jq not installed";
  testing::TempDir t;
  for (Value v : {Value(std::uint64_t{0xffffffffffffffffull}), Value(std::uint64_t{(1ull << 53) + 1}),
                  Value(std::int64_t{std::numeric_limits<std::int64_t>::min()}),
                  Value(std::int64_t{-(std::int64_t(1) << 53) - 1}), Value(std::uint64_t{1ull << 53}),
                  Value(std::int64_t{-5})}) {
    const StateStream s = with(v);
    auto p = t.path / "s.json";
    std::ofstream(p) << to_json(s);
    // jq parses every number as a double and prints it back.
    auto r = testing::run("jq . '" + p.string() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    auto back = stream_from_json(r.out);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_TRUE(*back == s) << r.out;
  }
  // Small values stay numbers.
  EXPECT_NE(to_json(with(std::uint64_t{1ull << 53})).find("9007199254740992"), std::string::npos);
  EXPECT_NE(to_json(with(std::uint64_t{~0ull})).find("\"0xffffffffffffffff\""), std::string::npos);
}

TEST(TreeJsonIntegers, HexAndDecimalStringsAreAcceptedWithinTheWidth) {
  struct Case {
    std::string type, v;
    std::optional<Value> want;
  };
  const Case cases[] = {
      {"u8", "\"0x1f\"", Value(std::uint8_t{0x1f})},
      {"u8", "\"0XFF\"", Value(std::uint8_t{0xff})},
      {"u8", "\"200\"", Value(std::uint8_t{200})},
      {"u8", "\"0x100\"", std::nullopt},
      {"u8", "\"-1\"", std::nullopt},
      {"i8", "\"-0x80\"", Value(std::int8_t{-128})},
      {"i8", "\"-0x81\"", std::nullopt},
      {"u16", "\"0xfff0\"", Value(std::uint16_t{0xfff0})},
      {"u64", "\"0xffffffffffffffff\"", Value(std::uint64_t{~0ull})},
      {"u64", "\"0x10000000000000000\"", std::nullopt},
      {"i64", "\"-0x8000000000000000\"", Value(std::numeric_limits<std::int64_t>::min())},
      {"u32", "\"0xzz\"", std::nullopt},
      {"u32", "\"\"", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type + " " + c.v);
    auto r = stream_from_json(with_json(c.type, c.v));
    if (!c.want) {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, Errc::invalid_value);
      EXPECT_EQ(r.error().field_path, "dev/0.x.v") << r.error().to_string();
      continue;
    }
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_TRUE(r->sections[0].body.members[0].value == *c.want);
  }
}

}  // namespace
}  // namespace statewire
