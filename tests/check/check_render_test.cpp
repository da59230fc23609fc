// The text and JSON reports of `check`: grouping by device, most severe
// first, and the exact layout of one finding (a golden rendering).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "check/check_fixture.hpp"

namespace statewire {
namespace {

using namespace check_test;

CheckReport two_devices() {
  std::string o = dev(desc("alpha", 1, 1, fld("a", 4) + "," + fld("b", 2)), "alpha") + "," +
                  dev(desc("beta", 1, 1, fld("x", 4)), "beta");
  std::string n = dev(desc("alpha", 1, 1, fld("aa", 4)), "alpha") + "," +
                  dev(desc("beta", 1, 1, fld("x", 4)), "beta");
  return check_compat(dump(o), dump(n));
}

TEST(CheckRender, TextGroupsByDeviceMostSevereFirst) {
  std::string text = render_check_text(two_devices());
  EXPECT_EQ(text,
            "statewire check: 1 error(s), 0 warning(s), 1 info (2 devices compared, old machine "
            "-, new machine -, direction both)\n"
            "\n"
            "  device (section)  forward  backward\n"
            "  alpha (alpha)     breaks   breaks  \n"
            "\n"
            "alpha (section \"alpha\")\n"
            "  error    b  [field-removed]  forward: breaks  backward: breaks\n"
            "           Field b (2 bytes) is gone: an old source still sends its bytes, which the "
            "new destination reads into the following fields, and an old destination expects "
            "bytes a new source no longer sends.\n"
            "           repair: Keep the bytes on the wire: replace it with VMSTATE_UNUSED(2) "
            "(zeros on save, skipped on load), or guard it with a _TEST tied to a compat "
            "property.\n"
            "           transform: forward: in \"alpha\" drop \"b\" (2 bytes)\n"
            "  info     a  [field-renamed]  forward: ok  backward: ok\n"
            "           Field a is now called \"aa\" at the same position and wire size; names are "
            "not on the wire, so streams load unchanged.\n");
  std::string quiet = render_check_text(two_devices(), RenderOptions{false});
  EXPECT_EQ(quiet.find("field-renamed"), std::string::npos);
  EXPECT_NE(quiet.find("field-removed"), std::string::npos);
}

TEST(CheckRender, JsonCarriesEveryFindingWithVerdicts) {
  auto j = nlohmann::json::parse(render_check_json(two_devices()));
  EXPECT_EQ(j["summary"]["errors"], 1);
  EXPECT_EQ(j["summary"]["info"], 1);
  EXPECT_EQ(j["summary"]["devices_compared"], 2);
  ASSERT_EQ(j["findings"].size(), 2u);
  EXPECT_EQ(j["findings"][0]["rule"], "field-renamed");
  EXPECT_EQ(j["findings"][1]["rule"], "field-removed");
  EXPECT_EQ(j["findings"][1]["backward"], "breaks");
  EXPECT_EQ(j["findings"][1]["section"], "alpha");
  EXPECT_TRUE(j["old_machine"].is_null());
  EXPECT_TRUE(j["machines"].empty());
}

}  // namespace
}  // namespace statewire
