// `statewire demo` end to end: it saves, loads (through every codec) and
// checks the example VM, shows refused loads changing nothing, and says OK;
// --schema-json prints schemas that load back.
#include <gtest/gtest.h>

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
