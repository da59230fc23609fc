#include "statewire/rules_file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "statewire/check.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

const char* kEveryOp = R"({"statewire_rules": 1, "transforms": [
  {"section": "dev", "from": 1, "to": 2, "note": "all of them",
   "when": {"has": ["b"], "lacks": ["[dev/x]"], "has_untested": []},
   "ops": [
     {"op": "add", "path": "c", "value": {"t": "u16", "v": 7}, "before": "a"},
     {"op": "drop", "path": "gone"},
     {"op": "rename", "path": "old", "to": "b"},
     {"op": "move", "path": "b", "before": "c"},
     {"op": "width", "path": "w", "type": "u64"},
     {"op": "set-version", "subsection": "dev/s", "version": 3},
     {"op": "add-subsection", "name": "dev/n", "version": 1, "fields": [{"n": "k", "t": "u8", "v": 1}]},
     {"op": "drop-subsection", "name": "dev/d"},
     {"op": "refuse-value", "path": "z", "value": {"t": "u8", "v": 0}, "reason": "z must stay 0"},
     {"op": "split", "into": "dev-extra", "version": 1, "fields": ["e"]}
   ]}]})";

Section sample() {
  Section s;
  s.name = "0000:00:02.0/dev";
  s.version_id = 1;
  s.body.members = {{"a", Value(std::uint8_t{1})},  {"old", Value(std::uint8_t{2})},
                    {"gone", Value(std::uint8_t{3})}, {"w", Value(std::uint32_t{70000})},
                    {"z", Value(std::uint8_t{0})},  {"e", Value(std::uint32_t{9})}};
  s.body.subsections = {{"dev/s", 1, {}}, {"dev/d", 1, {}}};
  return s;
}

TEST(RulesFile, EveryOperationParsesAppliesAndWritesBackTheSame) {
  auto set = parse_rules_json(kEveryOp, "test");
  ASSERT_TRUE(set) << set.error().to_string();
  ASSERT_EQ(set->all().size(), 1u);
  const Transform& t = set->all()[0];
  EXPECT_EQ(t.ops.size(), 10u);
  StateStream st;
  st.sections.push_back(sample());
  ASSERT_TRUE(apply_transform(t, st, 0));
  ASSERT_EQ(st.sections.size(), 2u);
  const Section& s = st.sections[0];
  EXPECT_EQ(s.version_id, 2u);
  std::vector<std::string> names;
  for (const auto& m : s.body.members) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "c", "a", "w", "z"}));
  EXPECT_EQ(*s.body.find("c"), Value(std::uint16_t{7}));
  EXPECT_EQ(*s.body.find("w"), Value(std::uint64_t{70000}));
  ASSERT_EQ(s.body.subsections.size(), 2u);
  EXPECT_EQ(s.body.subsections[0].version_id, 3u);
  EXPECT_EQ(s.body.subsections[1].name, "dev/n");
  EXPECT_EQ(st.sections[1].name, "0000:00:02.0/dev-extra");
  EXPECT_EQ(*st.sections[1].body.find("e"), Value(std::uint32_t{9}));
  // Written back, the rules read the same.
  auto again = parse_rules_json(rules_to_json(*set), "again");
  ASSERT_TRUE(again) << again.error().to_string();
  ASSERT_EQ(again->all()[0].ops.size(), t.ops.size());
  for (std::size_t i = 0; i < t.ops.size(); ++i)
    EXPECT_EQ(again->all()[0].ops[i].to_string(), t.ops[i].to_string());
  EXPECT_EQ(again->all()[0].when.lacks, t.when.lacks);
}

TEST(RulesFile, AFailingOperationLeavesTheStateUnchanged) {
  auto set = parse_rules_json(kEveryOp, "test");
  ASSERT_TRUE(set);
  StateStream st;
  st.sections.push_back(sample());
  *st.sections[0].body.find("z") = Value(std::uint8_t{5});
  StateStream before = st;
  auto r = apply_transform(set->all()[0], st, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().field_path, "z");
  EXPECT_NE(r.error().message.find("z must stay 0"), std::string::npos);
  EXPECT_EQ(st, before);
}

TEST(RulesFile, ErrorsNameTheJsonPath) {
  auto r = parse_rules_json(R"({"statewire_rules": 1, "transforms": [{"section": "a", "from": 1,
      "to": 1, "ops": [{"op": "width", "path": "x", "type": "f64"}]}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::schema_invalid);
  EXPECT_EQ(r.error().field_path, "$.transforms[0].ops[0].type");
  r = parse_rules_json(R"({"statewire_rules": 1, "transforms": [{"section": "a", "from": 1,
      "to": 1, "ops": [{"op": "teleport", "path": "x"}]}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field_path, "$.transforms[0].ops[0].op");
  EXPECT_FALSE(parse_rules_json("{}"));
}

TEST(RulesFile, CheckWritesTypedRepairsThatTheTransformLayerApplies) {
  // Old and new builds of one device: new inserts `b` (u16) before `c`,
  // renames `x` to `y` at the same place, drops `gone` and a subsection.
  const char* old_dump = R"({"dev": {"Name": "dev", "version_id": 1, "minimum_version_id": 1,
    "Description": {"name": "dev", "version_id": 1, "minimum_version_id": 1, "Fields": [
      {"field": "a", "version_id": 0, "field_exists": false, "size": 1, "type": "u8"},
      {"field": "x", "version_id": 0, "field_exists": false, "size": 4, "type": "u32"},
      {"field": "c", "version_id": 0, "field_exists": false, "size": 1, "type": "u8"},
      {"field": "gone", "version_id": 0, "field_exists": false, "size": 2, "type": "u16"}],
      "Subsections": [{"name": "dev/old", "version_id": 1, "minimum_version_id": 1, "Fields": []}]}}})";
  const char* new_dump = R"({"dev": {"Name": "dev", "version_id": 1, "minimum_version_id": 1,
    "Description": {"name": "dev", "version_id": 1, "minimum_version_id": 1, "Fields": [
      {"field": "a", "version_id": 0, "field_exists": false, "size": 1, "type": "u8"},
      {"field": "y", "version_id": 0, "field_exists": false, "size": 4, "type": "u32"},
      {"field": "b", "version_id": 0, "field_exists": false, "size": 2, "type": "u16"},
      {"field": "c", "version_id": 0, "field_exists": false, "size": 1, "type": "u8"}]}}})";
  auto o = parse_schema_json(old_dump);
  auto n = parse_schema_json(new_dump);
  ASSERT_TRUE(o) << o.error().to_string();
  ASSERT_TRUE(n) << n.error().to_string();
  CheckReport report = check_compat(*o, *n);
  TransformSet repairs = repair_transforms(report);
  auto parsed = parse_rules_json(rules_to_json(repairs), "check");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  StateStream st;
  Section s;
  s.name = "dev";
  s.version_id = 1;
  s.body.members = {{"a", Value(std::uint8_t{1})}, {"x", Value(std::uint32_t{2})},
                    {"c", Value(std::uint8_t{3})}, {"gone", Value(std::uint16_t{4})}};
  s.body.subsections = {{"dev/old", 1, {}}};
  st.sections.push_back(s);
  for (const auto& t : parsed->all()) ASSERT_TRUE(apply_transform(t, st, 0)) << t.label();
  std::vector<std::string> names;
  for (const auto& m : st.sections[0].body.members) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "y", "b", "c"}));
  EXPECT_EQ(*st.sections[0].body.find("b"), Value(std::uint16_t{0}));
  EXPECT_TRUE(st.sections[0].body.subsections.empty());
}

TEST(RulesFile, CliAppliesRulesAndCheckWritesThem) {
  testing::TempDir dir;
  std::filesystem::path rules = dir.path / "r.json", out = dir.path / "o.json";
  {
    std::ofstream(rules) << R"({"statewire_rules": 1, "transforms": [{"section": "fw_cfg",
      "from": 2, "to": 2, "ops": [{"op": "rename", "path": "cur_entry", "to": "entry"},
      {"op": "width", "path": "entry", "type": "u32"}]}]})";
  }
  std::string in = (testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig").string();
  auto r = testing::run(testing::cli() + " convert " + in + " " + out.string() +
                        " --to json --rules " + rules.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto tree = stream_from_json(testing::read_file(out));
  ASSERT_TRUE(tree);
  for (const auto& s : tree->sections)
    if (s.name == "fw_cfg") {
      ASSERT_NE(s.body.find("entry"), nullptr);
      EXPECT_EQ(s.body.find("entry")->kind(), ValueKind::u32);
    }
  // The rewritten trailer says u32 too, so the edited stream passes its own validation.
  std::filesystem::path mig = dir.path / "o.mig";
  r = testing::run(testing::cli() + " convert " + out.string() + " " + mig.string() + " --to qemu");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::string old72 = (testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string();
  std::filesystem::path dump102 = testing::corpus_dir() / ".." / "qemu-10.2" / "vmstate-pc-i440fx-7.2.json";
  if (!std::filesystem::exists(dump102)) GTEST_SKIP() << "QEMU 10.2 dump not present: " << dump102;
  std::filesystem::path written = dir.path / "repairs.json";
  r = testing::run(testing::cli() + " check " + old72 + " " + dump102.string() + " --rules-out " +
                   written.string());
  ASSERT_NE(r.exit_code, 2) << r.out;
  auto set = load_rules_file(written.string());
  ASSERT_TRUE(set) << set.error().to_string();
  bool hpet_rename = false;
  for (const auto& t : set->all())
    for (const auto& op : t.ops)
      hpet_rename = hpet_rename || (t.section == "hpet" && op.kind == OpKind::rename_field &&
                                    op.path == "num_timers" && op.name == "num_timers_save");
  EXPECT_TRUE(hpet_rename) << testing::read_file(written);
}

TEST(RulesFile, SyntaxErrorNamesLineAndColumn) {
  auto r = parse_rules_json("{\"statewire_rules\": 1,\n \"transforms\": [,]}", "test");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_NE(r.error().message.find("line 2, column"), std::string::npos) << r.error().to_string();
  auto deep = parse_rules_json(std::string(100000, '['), "test");
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, Errc::limit_exceeded);
}

}  // namespace
}  // namespace statewire
