// `statewire demo` end to end: it saves, loads (through every codec) and
// checks the example VM, shows refused loads changing nothing, and says OK;
// --schema-json prints schemas that load back.
#include <gtest/gtest.h>

#include <fstream>

#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

TEST(DemoCommand, SavesLoadsAndChecksTheExampleVm) {
  auto r = testing::run(testing::cli() + " demo");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("loaded objects equal the saved ones: yes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("subsection nic/offload v1"), std::string::npos);
  EXPECT_NE(r.out.find("uart v1 -> v3 code"), std::string::npos);
  EXPECT_NE(r.out.find("(qemu, framed, json)"), std::string::npos) << "loaded through every codec";
  // Four refused loads, each naming its section and leaving the VM as it was.
  EXPECT_NE(r.out.find("rtc/0: no object is registered"), std::string::npos) << r.out;
  std::size_t unchanged = 0;
  for (std::size_t at = 0; (at = r.out.find("VM unchanged: yes", at)) != std::string::npos; ++at)
    ++unchanged;
  EXPECT_EQ(unchanged, 4u) << r.out;
  EXPECT_EQ(r.out.substr(r.out.size() - 3), "OK\n");
}

TEST(DemoCommand, SavedVmLoadsBackThroughEachCodecAndAfterConvert) {
  testing::TempDir dir;
  for (const char* codec : {"qemu", "framed", "json"}) {
    const std::string file = (dir.path / (std::string("vm.") + codec)).string();
    auto saved = testing::run(testing::cli() + " demo --save " + file + " --to " + codec);
    ASSERT_EQ(saved.exit_code, 0) << saved.out;
    auto loaded = testing::run(testing::cli() + " demo --load " + file);
    ASSERT_EQ(loaded.exit_code, 0) << loaded.out;
    EXPECT_NE(loaded.out.find(std::string("(") + codec + ") into a fresh VM: 3 sections"),
              std::string::npos)
        << loaded.out;
    EXPECT_NE(loaded.out.find("equals the sample VM: yes"), std::string::npos) << loaded.out;
  }
  // Through `convert`: a QEMU stream without a schema becomes JSON with opaque
  // bodies, which the registry loads by bytes.
  const std::string json = (dir.path / "converted.json").string();
  auto conv = testing::run(testing::cli() + " convert " + (dir.path / "vm.qemu").string() + " " +
                           json + " --to json");
  ASSERT_EQ(conv.exit_code, 0) << conv.out;
  EXPECT_NE(testing::read_file(json).find("\"opaque\""), std::string::npos);
  auto loaded = testing::run(testing::cli() + " demo --load " + json);
  ASSERT_EQ(loaded.exit_code, 0) << loaded.out;
  EXPECT_NE(loaded.out.find("equals the sample VM: yes"), std::string::npos) << loaded.out;
}

// Replaces the first `"v": from` after `"n": "field"` in tree JSON.
std::string edit_json(std::string text, const std::string& anchor, const std::string& from,
                      const std::string& to) {
  const std::size_t at = text.find(anchor);
  const std::size_t v = text.find(from, at);
  EXPECT_NE(at, std::string::npos);
  EXPECT_NE(v, std::string::npos);
  return text.replace(v, from.size(), to);
}

TEST(DemoCommand, EditedJsonLoadsWithTheEditAndABadEditIsRefused) {
  testing::TempDir dir;
  const std::string file = (dir.path / "vm.json").string();
  ASSERT_EQ(testing::run(testing::cli() + " demo --save " + file + " --to json").exit_code, 0);
  const std::string text = testing::read_file(file);

  const std::string edited = (dir.path / "edited.json").string();
  std::ofstream(edited) << edit_json(text, "\"n\": \"scr\"", "\"v\": 90", "\"v\": 7");
  auto r = testing::run(testing::cli() + " demo --load " + edited);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("(1 differences)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("uart/0:scr"), std::string::npos) << r.out;

  // The nic claims a version the example's code does not have yet.
  const std::string newer = (dir.path / "newer.json").string();
  std::ofstream(newer) << edit_json(text, "\"name\": \"nic\"", "\"version_id\": 3",
                                    "\"version_id\": 4");
  r = testing::run(testing::cli() + " demo --load " + newer);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("nic/0: incoming version 4 is newer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("refused (version_too_new): no device changed"), std::string::npos);
}

TEST(DemoCommand, SchemaJsonLoadsBackWithEveryDevice) {
  auto r = testing::run(testing::cli() + " demo --schema-json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto set = parse_schema_json(r.out);
  ASSERT_TRUE(set) << set.error().to_string();
  ASSERT_EQ(set->devices.size(), 3u);
  EXPECT_NE(set->find_description("nic"), nullptr);
  EXPECT_EQ(set->find_description("timer")->minimum_version_id, 2u);
}

}  // namespace
}  // namespace statewire
