#include "statewire/schema_json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace statewire {
namespace {

using testing::corpus_files;
using testing::read_file;

TEST(SchemaJson, EveryCorpusDumpReexportsByteForByte) {
  auto dumps = corpus_files(".json");
  ASSERT_FALSE(dumps.empty()) << "no -dump-vmstate JSON in " << testing::corpus_dir();
  for (const auto& path : dumps) {
    std::string text = read_file(path);
    auto set = parse_schema_json(text);
    ASSERT_TRUE(set) << path << ": " << set.error().to_string();
    std::string out = to_schema_json(*set);
    auto diverge = std::mismatch(out.begin(), out.end(), text.begin(), text.end());
    EXPECT_TRUE(out == text) << path << ": first difference at byte "
                             << (diverge.first - out.begin());
  }
}

TEST(SchemaJson, LoadExportLoadIsIdentityIncludingExtendedKeys) {
  for (const auto& path : corpus_files(".json")) {
    auto set = parse_schema_json(read_file(path));
    ASSERT_TRUE(set);
    for (bool extended : {false, true}) {
      auto again = parse_schema_json(to_schema_json(*set, SchemaJsonOptions{extended}));
      ASSERT_TRUE(again) << again.error().to_string();
      EXPECT_EQ(*again, *set) << path << " extended=" << extended;
    }
  }
}

// Counts a dump's descriptions, fields and subsections straight from its JSON,
// independently of the schema parser, as SchemaStats counts them.
void count_description(const nlohmann::json& d, std::size_t depth, SchemaStats& s) {
  ++s.descriptions;
  s.max_depth = std::max(s.max_depth, depth);
  if (d.contains("Fields"))
    for (const auto& f : d["Fields"]) {
      ++s.fields;
      if (f.contains("Description")) count_description(f["Description"], depth + 1, s);
    }
  if (d.contains("Subsections"))
    for (const auto& sub : d["Subsections"]) {
      ++s.subsections;
      count_description(sub, depth + 1, s);
    }
}

TEST(SchemaJson, CountsMatchQemu72Dump) {
  const std::string text = read_file(testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json");
  auto set = parse_schema_json(text);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->machine, "pc-i440fx-7.2");
  const auto raw = nlohmann::json::parse(text);
  SchemaStats want;
  std::size_t devices = 0;
  for (const auto& [name, dev] : raw.items()) {
    if (name == "vmschkmachine") continue;
    ++devices;
    count_description(dev["Description"], 1, want);
  }
  EXPECT_GT(devices, 200u);  // a whole PC's worth of device types
  EXPECT_EQ(set->devices.size(), devices);
  SchemaStats s = stats(*set);
  EXPECT_EQ(s.descriptions, want.descriptions);
  EXPECT_EQ(s.fields, want.fields);
  EXPECT_EQ(s.subsections, want.subsections);
  EXPECT_EQ(s.max_depth, want.max_depth);
  EXPECT_GT(s.fields, 4000u);

  const DeviceSchema* serial = set->find_device("isa-serial");
  ASSERT_NE(serial, nullptr);
  EXPECT_EQ(serial->description.name, "serial");
  EXPECT_EQ(serial->version_id, 3u);
  EXPECT_EQ(serial->minimum_version_id, 2u);
  const Field* state = serial->description.find_field("state");
  ASSERT_NE(state, nullptr);
  ASSERT_TRUE(state->nested);
  EXPECT_EQ(state->kind, FieldKind::structure);
  const Field* divider = state->nested->find_field("divider");
  ASSERT_NE(divider, nullptr);
  EXPECT_EQ(divider->version_id, 2u);
  EXPECT_EQ(divider->size, 2u);
  EXPECT_NE(state->nested->find_subsection("serial/recv_fifo"), nullptr);
}

TEST(SchemaJson, FingerprintsTellDescriptionsApart) {
  auto set = parse_schema_json(read_file(testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json"));
  ASSERT_TRUE(set);
  const Description& serial = set->find_device("isa-serial")->description;
  Description copy = serial;
  EXPECT_EQ(schema_fingerprint(copy), schema_fingerprint(serial));
  copy.version_id += 1;
  EXPECT_NE(schema_fingerprint(copy), schema_fingerprint(serial));
  EXPECT_NE(schema_fingerprint(set->find_device("isa-parallel")->description),
            schema_fingerprint(serial));
}

TEST(SchemaJson, KeepsAbsentVersusEmptyFieldLists) {
  auto set = parse_schema_json(read_file(testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json"));
  ASSERT_TRUE(set);
  const DeviceSchema* vsock = set->find_device("vhost-user-vsock-device");
  ASSERT_NE(vsock, nullptr);
  EXPECT_FALSE(vsock->description.fields.has_value());
}

TEST(SchemaJson, AcceptsNewerNumKey) {
  auto set = parse_schema_json(R"({"d": {"Name": "d", "version_id": 1, "minimum_version_id": 1,
    "Description": {"name": "d", "version_id": 1, "minimum_version_id": 1, "Fields": [
      {"field": "regs", "version_id": 0, "field_exists": false, "num": 8, "size": 4}]}}})");
  ASSERT_TRUE(set) << set.error().to_string();
  const Field& f = set->devices[0].description.fields->at(0);
  EXPECT_EQ(f.num, 8u);
  EXPECT_EQ(f.count, Count::fixed(8));
}

TEST(SchemaJson, MissingKeyNamesThePath) {
  auto set = parse_schema_json(R"({"d": {"Name": "d", "version_id": 1, "minimum_version_id": 1,
    "Description": {"name": "d", "version_id": 1, "minimum_version_id": 1, "Fields": [
      {"field": "a", "version_id": 0, "field_exists": false, "size": 4},
      {"field": "b", "version_id": 0, "size": 4}]}}})");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, Errc::schema_invalid);
  EXPECT_EQ(set.error().field_path, "$[\"d\"].Description.Fields[1]");
}

TEST(SchemaJson, RejectsNonJsonAndWrongShapes) {
  EXPECT_FALSE(parse_schema_json("{"));
  EXPECT_FALSE(parse_schema_json("[]"));
  EXPECT_FALSE(parse_schema_json(R"({"d": 3})"));
  EXPECT_FALSE(parse_schema_json(R"({"d": {"Name": "d", "version_id": -1, "minimum_version_id": 0,
    "Description": {"name": "d", "version_id": 0, "minimum_version_id": 0}}})"));
}

TEST(SchemaJson, RejectsHostileNesting) {
  std::string deep;
  for (int i = 0; i < 200; ++i)
    deep += R"({"name": "x", "version_id": 0, "minimum_version_id": 0, "Fields": [{"field": "f", "version_id": 0, "field_exists": false, "size": 1, "Description": )";
  deep += R"({"name": "x", "version_id": 0, "minimum_version_id": 0})";
  for (int i = 0; i < 200; ++i) deep += "}]}";
  auto set = parse_schema_json(R"({"d": {"Name": "d", "version_id": 0, "minimum_version_id": 0, "Description": )" + deep + "}}");
  ASSERT_FALSE(set);
  // Nesting is one of the shared limits (limits.hpp), refused before parsing.
  EXPECT_EQ(set.error().code, Errc::limit_exceeded);
}

}  // namespace
}  // namespace statewire
