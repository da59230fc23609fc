// Machine types for `check --machines`: compat properties inherited from
// newer machine types (the oldest entry wins), gates, and the per-machine
// verdicts they give a subsection added in the new build.
#include "statewire/machine_types.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "check/check_fixture.hpp"

namespace statewire {
namespace {

using namespace check_test;

// acme-3.0 is the new build's own machine type; acme-2.1 forgot the compat
// entry; acme-2.0 turns the property off; acme-1.0 inherits that and turns it
// back on (the oldest entry wins, as in QEMU's hw_compat arrays).
constexpr const char* kMachines = R"({
  "machines": [
    {"name": "acme-3.0", "only_new": true},
    {"name": "acme-2.1", "compat": []},
    {"name": "acme-2.0", "compat": [{"driver": "acme-nic", "property": "migrate-extra", "value": "off"}]},
    {"name": "acme-1.5", "compat": [{"driver": "acme-disk", "property": "x", "value": "1"}]},
    {"name": "acme-1.0", "compat": [{"driver": "acme-nic", "property": "migrate-extra", "value": true}]}
  ],
  "gates": [
    {"device": "nic", "driver": "acme-nic", "subsection": "nic/extra",
     "property": "migrate-extra", "default": "on", "active_when": "on"}
  ]
})";

MachineSet machines() {
  auto m = parse_machine_set_json(kMachines);
  EXPECT_TRUE(m) << m.error().to_string();
  return m ? *m : MachineSet{};
}

TEST(MachineTypes, CompatPropertiesAreInheritedAndTheOldestWins) {
  MachineSet m = machines();
  ASSERT_EQ(m.machines.size(), 5u);
  EXPECT_EQ(m.property_value(0, "acme-nic", "migrate-extra"), std::nullopt);
  EXPECT_EQ(m.property_value(1, "acme-nic", "migrate-extra"), std::nullopt);
  EXPECT_EQ(m.property_value(2, "acme-nic", "migrate-extra"), "off");
  EXPECT_EQ(m.property_value(3, "acme-nic", "migrate-extra"), "off");
  EXPECT_EQ(m.property_value(4, "acme-nic", "migrate-extra"), "on");
  const PropertyGate* g = m.find_gate("nic", GateTarget::subsection, "nic/extra");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(m.gate_active(1, *g));   // default on
  EXPECT_FALSE(m.gate_active(3, *g));  // inherited off
  EXPECT_TRUE(m.gate_active(4, *g));
}

TEST(MachineTypes, RejectsMalformedFilesWithPath) {
  auto r = parse_machine_set_json(R"({"machines": [{"name": "a", "compat": [{"driver": "d"}]}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::schema_invalid);
  EXPECT_EQ(r.error().field_path, "$.machines[0].compat[0]");
  auto two = parse_machine_set_json(R"({"gates": [{"device": "d", "field": "f", "subsection": "s",
      "property": "p", "default": "on", "active_when": "on"}]})");
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().field_path, "$.gates[0]");
  EXPECT_FALSE(parse_machine_set_json("[1]"));
  EXPECT_FALSE(parse_machine_set_json("{"));
}

std::string nic(bool with_extra) {
  std::string subs = with_extra ? desc("nic/extra", 1, 1, fld("e", 4)) : "";
  return dev(desc("nic", 2, 1, fld("a", 4), subs), "nic");
}

TEST(MachineTypes, GatedSubsectionBreaksOnlyMachineTypesThatSendIt) {
  MachineSet m = machines();
  CheckOptions opt;
  opt.machines = &m;
  CheckReport r = check_compat(dump(nic(false)), dump(nic(true)), opt);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].backward, Verdict::risk);
  // 4 machine types the old build can run, forward and backward each.
  ASSERT_EQ(r.machines.size(), 8u);
  std::map<std::string, Verdict> backward;
  for (const auto& p : r.machines) {
    if (p.direction == CheckDirection::forward) EXPECT_EQ(p.verdict, Verdict::ok) << p.machine;
    else backward[p.machine] = p.verdict;
  }
  EXPECT_EQ(backward["acme-2.1"], Verdict::breaks);
  EXPECT_EQ(backward["acme-2.0"], Verdict::ok);
  EXPECT_EQ(backward["acme-1.5"], Verdict::ok);
  EXPECT_EQ(backward["acme-1.0"], Verdict::breaks);
  EXPECT_EQ(backward.count("acme-3.0"), 0u);
  for (const auto& p : r.machines)
    if (p.machine == "acme-2.1" && p.direction == CheckDirection::backward) {
      ASSERT_EQ(p.reasons.size(), 1u);
      EXPECT_THAT(p.reasons[0], ::testing::HasSubstr("acme-nic.migrate-extra=on (default)"));
      EXPECT_THAT(p.reasons[0],
                  ::testing::HasSubstr(R"(fix: add {"driver": "acme-nic", "property": )"
                                       R"("migrate-extra", "value": "off"} to the compat )"
                                       R"(properties of acme-2.1)"));
    }
}

TEST(MachineTypes, UngatedFindingsKeepTheirVerdictOnEveryMachine) {
  MachineSet m = machines();
  m.gates.clear();
  CheckOptions opt;
  opt.machines = &m;
  opt.direction = CheckDirection::backward;
  CheckReport r = check_compat(dump(nic(false)), dump(nic(true)), opt);
  ASSERT_EQ(r.machines.size(), 4u);
  for (const auto& p : r.machines) EXPECT_EQ(p.verdict, Verdict::risk) << p.machine;
  // A version bump breaks backward whatever the machine type.
  std::string bumped = dev(desc("nic", 3, 1, fld("a", 4)), "nic");
  r = check_compat(dump(nic(false)), dump(bumped), opt);
  for (const auto& p : r.machines) EXPECT_EQ(p.verdict, Verdict::breaks) << p.machine;
}

TEST(MachineTypes, TestGatedFieldSettledByItsGate) {
  auto m = parse_machine_set_json(R"({
    "machines": [{"name": "new", "only_new": true},
                 {"name": "old", "compat": [{"driver": "pm", "property": "x-no-index", "value": "on"}]}],
    "gates": [{"device": "pm", "field": "index", "property": "x-no-index",
               "default": "off", "active_when": "off"}]})");
  ASSERT_TRUE(m) << m.error().to_string();
  CheckOptions opt;
  opt.machines = &*m;
  std::string o = dev(desc("pm", 1, 1, fld("a", 4)), "pm");
  std::string n = dev(desc("pm", 1, 1, fld("a", 4) + "," + fld("index", 4, 0, true)), "pm");
  CheckReport r = check_compat(dump(o), dump(n), opt);
  EXPECT_THAT(summary(r), ::testing::ElementsAre("field-added index risk/risk"));
  ASSERT_EQ(r.machines.size(), 2u);
  EXPECT_EQ(r.machines[0].verdict, Verdict::ok);
  EXPECT_EQ(r.machines[1].verdict, Verdict::ok);
  // Without the compat entry the field is sent and read: both directions break.
  m->machines[1].compat.clear();
  r = check_compat(dump(o), dump(n), opt);
  EXPECT_EQ(r.machines[0].verdict, Verdict::breaks);
  EXPECT_EQ(r.machines[1].verdict, Verdict::breaks);
}

}  // namespace
}  // namespace statewire

namespace statewire {
namespace {

TEST(MachineTypes, SectionGateMakesEveryFindingOfTheDeviceMootWhereItIsNotSent) {
  // Like pc_compat_2_7's {isa-pcspk, migrate, off}: the whole section is skipped.
  auto m = parse_machine_set_json(R"({
    "machines": [{"name": "m-3", "compat": []},
                 {"name": "m-2", "compat": [{"driver": "spk", "property": "migrate", "value": "off"}]}],
    "gates": [{"device": "spk", "section": true, "property": "migrate",
               "default": "on", "active_when": "on"}]})");
  ASSERT_TRUE(m) << m.error().to_string();
  CheckOptions opt;
  opt.machines = &*m;
  opt.direction = CheckDirection::backward;
  std::string o = check_test::dev(check_test::desc("spk", 1, 1, check_test::fld("a", 4)), "spk");
  std::string n = check_test::dev(check_test::desc("spk", 2, 1, check_test::fld("a", 4)), "spk");
  CheckReport r = check_compat(check_test::dump(o), check_test::dump(n), opt);
  ASSERT_EQ(r.machines.size(), 2u);
  EXPECT_EQ(r.machines[0].machine, "m-3");
  EXPECT_EQ(r.machines[0].verdict, Verdict::breaks);
  EXPECT_EQ(r.machines[1].verdict, Verdict::ok);
  EXPECT_TRUE(r.machines[1].reasons.empty());
}

}  // namespace
}  // namespace statewire
