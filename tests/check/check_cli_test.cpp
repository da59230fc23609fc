// `statewire check` through the real binary: exit codes for CI (0
// compatible, 1 breaking or --strict warnings, 2 bad arguments or unreadable
// input), JSON output and the machine-type table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "check/check_fixture.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

using testing::cli;
using testing::run;
using ::testing::HasSubstr;

std::string corpus_dump() { return (testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string(); }

// A copy of the corpus dump with one edit, written to a temp file.
std::string mutated(const std::string& name, void (*edit)(SchemaSet&)) {
  auto s = load_schema_file(corpus_dump());
  EXPECT_TRUE(s);
  edit(*s);
  auto path = std::filesystem::temp_directory_path() / ("statewire-check-" + name + ".json");
  std::ofstream(path) << to_schema_json(*s);
  return path.string();
}

DeviceSchema& rtc(SchemaSet& s) {
  for (auto& d : s.devices)
    if (d.key == "mc146818rtc") return d;
  return s.devices.front();
}

TEST(CheckCli, SameDumpIsCompatible) {
  auto r = run(cli() + " check " + corpus_dump() + " " + corpus_dump());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("0 error(s), 0 warning(s), 0 info"));
}

TEST(CheckCli, BreakingChangeExitsOneAndNamesDeviceAndField) {
  std::string neu = mutated("size", [](SchemaSet& s) { (*rtc(s).description.fields)[1].size = 2; });
  auto r = run(cli() + " check " + corpus_dump() + " " + neu);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("mc146818rtc (section \"mc146818rtc\")"));
  EXPECT_THAT(r.out, HasSubstr("error    cmos_index  [field-size-changed]"));
}

TEST(CheckCli, DirectionDecidesWhatCounts) {
  std::string neu = mutated("bump", [](SchemaSet& s) { rtc(s).description.version_id = 4; });
  EXPECT_EQ(run(cli() + " check " + corpus_dump() + " " + neu).exit_code, 1);
  EXPECT_EQ(run(cli() + " check --direction forward " + corpus_dump() + " " + neu).exit_code, 0);
  EXPECT_EQ(run(cli() + " check --direction backward " + corpus_dump() + " " + neu).exit_code, 1);
}

TEST(CheckCli, WarningsFailOnlyWithStrict) {
  std::string neu = mutated("test", [](SchemaSet& s) { (*rtc(s).description.fields)[1].test = ""; });
  EXPECT_EQ(run(cli() + " check " + corpus_dump() + " " + neu).exit_code, 0);
  EXPECT_EQ(run(cli() + " check --strict " + corpus_dump() + " " + neu).exit_code, 1);
}

TEST(CheckCli, JsonReportParses) {
  std::string neu = mutated("json", [](SchemaSet& s) { rtc(s).description.fields->pop_back(); });
  auto r = run(cli() + " check --format json " + corpus_dump() + " " + neu + " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["summary"]["errors"], 1);
  EXPECT_EQ(j["summary"]["breaking"], true);
  ASSERT_EQ(j["findings"].size(), 1u);
  EXPECT_EQ(j["findings"][0]["rule"], "field-removed");
  EXPECT_EQ(j["findings"][0]["device"], "mc146818rtc");
  EXPECT_EQ(j["findings"][0]["path"], "next_alarm_time");
  EXPECT_EQ(j["findings"][0]["forward"], "breaks");
}

TEST(CheckCli, BadArgumentsAndUnreadableInputExitTwo) {
  EXPECT_EQ(run(cli() + " check " + corpus_dump()).exit_code, 2);
  EXPECT_EQ(run(cli() + " check --format yaml " + corpus_dump() + " " + corpus_dump()).exit_code, 2);
  auto missing = run(cli() + " check /nonexistent/old.json " + corpus_dump());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.out, HasSubstr("cannot open"));
  auto bad = std::filesystem::temp_directory_path() / "statewire-check-bad.json";
  std::ofstream(bad) << "{\"d\": 3}";
  EXPECT_EQ(run(cli() + " check " + bad.string() + " " + corpus_dump()).exit_code, 2);
  EXPECT_EQ(run(cli() + " check --machines " + bad.string() + " " + corpus_dump() + " " +
                corpus_dump()).exit_code, 2);
}

TEST(CheckCli, MachinesFileGivesPerMachineVerdicts) {
  std::string neu = mutated("tso", [](SchemaSet& s) {
    Subsection sub;
    sub.description.name = "mc146818rtc/extra";
    sub.description.version_id = sub.description.minimum_version_id = 1;
    sub.description.fields.emplace();
    Field f;
    f.name = "extra";
    f.size = 8;
    sub.description.fields->push_back(f);
    rtc(s).description.subsections->push_back(sub);
  });
  auto machines = std::filesystem::temp_directory_path() / "statewire-check-machines.json";
  std::ofstream(machines) << R"({"machines": [
      {"name": "pc-i440fx-7.2", "only_new": true},
      {"name": "pc-i440fx-7.1", "compat": [{"driver": "mc146818rtc", "property": "x-extra", "value": "off"}]}],
    "gates": [{"device": "mc146818rtc", "subsection": "mc146818rtc/extra", "property": "x-extra",
               "default": "on", "active_when": "on"}]})";
  auto r = run(cli() + " check --machines " + machines.string() + " " + corpus_dump() + " " + neu);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("pc-i440fx-7.1            backward new -> old: ok"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("pc-i440fx-7.2 ")));
}

}  // namespace
}  // namespace statewire
