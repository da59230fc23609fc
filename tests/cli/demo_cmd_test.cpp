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

// Step 7: one forward and one backward migration of the evolving model
// through transforms, the plan's steps shown, the state checked field by field.
TEST(DemoCommand, MigratesTheEvolvingModelForwardAndBackward) {
  auto r = testing::run(testing::cli() + " demo --no-tree");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::size_t step = r.out.find("7. migrations between releases through transforms");
  ASSERT_NE(step, std::string::npos) << r.out;
  const std::string out = r.out.substr(step);
  const std::size_t back = out.find("release 4 on demo-2.0 -> release 2");
  ASSERT_NE(out.find("release 1 on demo-1.0 -> release 4"), std::string::npos) << out;
  ASSERT_NE(back, std::string::npos) << out;
  const std::string fwd = out.substr(0, back), bwd = out.substr(back);
  // The plan's steps: every transform of the chain, with its operations.
  for (const char* line : {"timer/0: version 1 -> 3", "timer 1->2 (prescaler added)", "add prescale = 0x1",
                           "timer 2->3", "compute remaining", "split filter into nic-filter v1",
                           "rename ier -> int_enable"})
    EXPECT_NE(fwd.find(line), std::string::npos) << line << "\n" << fwd;
  for (const char* line : {"timer/0: version 3 -> 2", "drop remaining", "width count -> u32",
                           "merge nic-filter", "rename int_enable -> ier"})
    EXPECT_NE(bwd.find(line), std::string::npos) << line << "\n" << bwd;
  // Field by field at the destination, and the way back.
  EXPECT_NE(fwd.find("release 4 holds timer/0: every field as sent: count=0x186a0 reload=0x3d090 "
                     "prescale=0x1 remaining=0x186a0"),
            std::string::npos)
      << fwd;
  EXPECT_NE(fwd.find("release 4 holds nic-filter/0: every field as sent: filter=[0xa000001"),
            std::string::npos)
      << fwd;
  EXPECT_NE(bwd.find("release 2 holds timer/0: every field as sent: count=0x186a0 reload=0x3d090 "
                     "prescale=0x4"),
            std::string::npos)
      << bwd;
  EXPECT_NE(bwd.find("release 2 holds nic/0: every field as sent: mac=525400123456 ctrl=0x11 "
                     "filter=[0xa000001"),
            std::string::npos)
      << bwd;
  EXPECT_NE(fwd.find("back to release 1: the source's state, field by field"), std::string::npos);
  EXPECT_NE(bwd.find("back to release 4: the source's state, field by field"), std::string::npos);
  EXPECT_EQ(out.find("DIFFERENT"), std::string::npos) << out;
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
