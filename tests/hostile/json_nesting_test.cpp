// Class 2 of issue 18: deeply nested JSON. Every JSON reader checks the
// nesting before parsing (the parser and our walkers recurse), and syntax
// errors say line and column.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "statewire/capabilities.hpp"
#include "statewire/framed.hpp"
#include "statewire/machine_types.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

std::string nested_arrays(std::size_t n) { return std::string(n, '[') + std::string(n, ']'); }

std::string nested_objects(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(n, '}');
  return s;
}

TEST(HostileJson, EveryReaderRefusesDeepNestingBeforeParsing) {
  // The 129th opening bracket is refused: column 129 of nested arrays, 641 of
  // nested {"a": objects (5 characters each).
  const std::pair<std::string, std::string> docs[] = {{nested_arrays(100000), "line 1, column 129"},
                                                       {nested_objects(100000), "line 1, column 641"}};
  for (const auto& [doc, where] : docs) {
    auto tree = stream_from_json(doc);
    ASSERT_FALSE(tree);
    EXPECT_EQ(tree.error().code, Errc::limit_exceeded);
    EXPECT_NE(tree.error().message.find(where), std::string::npos) << tree.error().to_string();
    auto st = struct_from_json(doc);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::limit_exceeded);
    auto schema = parse_schema_json(doc);
    ASSERT_FALSE(schema);
    EXPECT_EQ(schema.error().code, Errc::limit_exceeded);
    auto caps = capabilities_from_json(doc);
    ASSERT_FALSE(caps);
    EXPECT_EQ(caps.error().code, Errc::limit_exceeded);
    auto machines = parse_machine_set_json(doc);
    ASSERT_FALSE(machines);
    EXPECT_EQ(machines.error().code, Errc::limit_exceeded);
  }
}

TEST(HostileJson, BracketsInsideStringsDoNotCount) {
  const std::string doc = "{\"sections\": [], \"envelope\": {\"fields\": [{\"n\": \"" +
                          std::string(1000, '[') + "\\\"" + std::string(1000, '{') +
                          "\", \"t\": \"u8\", \"v\": 1}]}}";
  auto tree = stream_from_json(doc);
  ASSERT_TRUE(tree) << tree.error().to_string();
  EXPECT_EQ(tree->envelope.members.at(0).name.size(), 2001u);
}

// The deepest tree the binary readers accept (Limits::max_depth) must read
// back from the JSON we write for it, and one level more is refused.
TEST(HostileJson, TreesAtTheDepthLimitRoundTripAndDeeperOnesAreRefused) {
  auto nest = [](std::size_t levels) {
    Struct s;
    s.members.push_back({"leaf", std::uint8_t{1}});
    for (std::size_t i = 0; i < levels; ++i) {
      Struct outer;
      Array a;
      a.items.push_back(Value(std::move(s)));
      outer.members.push_back({"a", Value(std::move(a))});
      s = std::move(outer);
    }
    StateStream st;
    st.sections.push_back({SectionKind::full, 0, "deep", 0, 1, std::move(s)});
    return st;
  };
  const Limits limits;
  StateStream ok = nest(limits.max_depth / 2);  // an array and a struct per level
  auto framed = encode_framed(ok);
  ASSERT_TRUE(framed);
  auto from_framed = decode_framed(*framed);
  ASSERT_TRUE(from_framed) << from_framed.error().to_string();
  auto back = stream_from_json(to_json(from_framed->stream));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, ok);

  auto too_deep = stream_from_json(to_json(nest(limits.max_depth / 2 + 1)));
  ASSERT_FALSE(too_deep);
  EXPECT_EQ(too_deep.error().code, Errc::limit_exceeded);
  EXPECT_NE(too_deep.error().field_path.find("deep/0"), std::string::npos)
      << too_deep.error().to_string();
}

TEST(HostileJson, SyntaxErrorsGiveLineAndColumn) {
  auto tree = stream_from_json("{\n  \"sections\": [\n    1,,\n  ]\n}\n");
  ASSERT_FALSE(tree);
  EXPECT_NE(tree.error().message.find("line 3, column 7"), std::string::npos)
      << tree.error().to_string();
  auto schema = parse_schema_json("{\"a\": \n tru }");
  ASSERT_FALSE(schema);
  EXPECT_NE(schema.error().message.find("line 2, column"), std::string::npos)
      << schema.error().to_string();
}

// A real stream whose description trailer was replaced by deep nesting.
TEST(HostileJson, QemuTrailerWithDeepNestingIsRefused) {
  Bytes b = testing::read_bytes(testing::corpus_dir() / "isapc-ne2k-paused.mig");
  auto tree = qemu::decode_qemu_stream(b);
  ASSERT_TRUE(tree);
  const std::string* trailer = tree->envelope.find(qemu::keys::kTrailer)->get_if<std::string>();
  ASSERT_NE(trailer, nullptr);
  const std::size_t at = b.size() - trailer->size() - 5;
  ASSERT_EQ(b[at], 0x06);
  const std::string deep = "{\"devices\": " + nested_arrays(100000) + "}";
  Bytes crafted(b.begin(), b.begin() + static_cast<long>(at) + 1);
  for (int i = 3; i >= 0; --i) crafted.push_back(static_cast<std::uint8_t>(deep.size() >> (8 * i)));
  crafted.insert(crafted.end(), deep.begin(), deep.end());
  auto r = qemu::decode_qemu_stream(crafted);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  ASSERT_TRUE(r.error().offset);
  EXPECT_GT(*r.error().offset, at);
}

TEST(HostileJson, CliCommandsReportDeepNestingAsBadInput) {
  testing::TempDir dir;
  const auto p = dir.path / "deep.json";
  { std::ofstream(p) << nested_objects(100000); }
  for (const std::string& cmd :
       {" schema " + p.string(), " convert " + p.string() + " " + dir.path.string() + "/o --to qemu",
        " check " + p.string() + " " + p.string()}) {
    auto r = testing::run(testing::cli() + cmd);
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.exit_code, -1) << cmd;  // not a crash
    EXPECT_NE(r.out.find("nested deeper than"), std::string::npos) << cmd << ": " << r.out;
  }
}

}  // namespace
}  // namespace statewire
