// What makes `check` trustworthy on real dumps (mutated copies of the
// corpus's QEMU 7.2 dump): sections are matched by their name on the wire,
// a size a count-less dump cannot tell is a risk with its reason, repeated
// findings are said once, the report opens with a device x direction table,
// and --devices-from judges only what a given VM's stream sends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "check/check_fixture.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

using check_test::summary;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

const SchemaSet& corpus() {
  static const SchemaSet set = [] {
    auto s = load_schema_file((testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
    EXPECT_TRUE(s) << s.error().to_string();
    return s ? *s : SchemaSet{};
  }();
  return set;
}

Field& field(Description& d, std::string_view name) {
  for (auto& f : *d.fields)
    if (f.name == name) return f;
  ADD_FAILURE() << "no field " << name << " in " << d.name;
  return d.fields->front();
}

DeviceSchema& device(SchemaSet& s, std::string_view key) {
  for (auto& d : s.devices)
    if (d.key == key) return d;
  ADD_FAILURE() << "no device " << key;
  return s.devices.front();
}

CheckReport mutate(const std::function<void(SchemaSet&)>& m, const CheckOptions& opt = {}) {
  SchemaSet neu = corpus();
  m(neu);
  return check_compat(corpus(), neu, opt);
}

TEST(CheckTrust, TypeGoneWhileItsSectionStaysIsNotARemovedSection) {
  // pci-piix3 and PIIX3 both send section "PIIX3" (QEMU 10.2 dropped the first).
  CheckReport r = mutate([](SchemaSet& s) {
    std::erase_if(s.devices, [](const DeviceSchema& d) { return d.key == "pci-piix3"; });
  });
  EXPECT_THAT(summary(r), ElementsAre("device-renamed  ok/ok"));
  EXPECT_EQ(r.findings[0].device, "pci-piix3");
  EXPECT_NE(r.findings[0].explanation.find("PIIX3"), std::string::npos);
  EXPECT_FALSE(r.breaking());
  // With no type left sending "PIIX3", the section is gone.
  CheckReport gone = mutate([](SchemaSet& s) {
    std::erase_if(s.devices, [](const DeviceSchema& d) { return d.description.name == "PIIX3"; });
  });
  EXPECT_THAT(summary(gone), Contains("section-removed  breaks/ok"));
  EXPECT_TRUE(gone.breaking());
}

TEST(CheckTrust, PaddingAgainstAFieldOfUnknownCountIsARiskWithItsReason) {
  // QEMU 10.2 turned e1000e's bool[5] core.eitr_intr_pending into 5 unused
  // bytes; the 7.2 dump shows the array as one 1-byte element.
  auto to_padding = [](SchemaSet& s) {
    Field& f = field(device(s, "e1000e").description, "core.eitr_intr_pending");
    f.name = "unused";
    f.size = 5;
  };
  CheckReport r = mutate(to_padding);
  EXPECT_THAT(summary(r), ElementsAre("unused-size-unknown core.eitr_intr_pending risk/risk"));
  EXPECT_NE(r.findings[0].explanation.find("array of 5"), std::string::npos);
  EXPECT_FALSE(r.breaking());

  // Where the old dump does give the count, it decides.
  for (auto [num, expect] : {std::pair{5u, "field-replaced-by-unused core.eitr_intr_pending ok/ok"},
                             std::pair{4u, "unused-size-mismatch core.eitr_intr_pending breaks/breaks"}}) {
    SchemaSet old = corpus();
    Field& f = field(device(old, "e1000e").description, "core.eitr_intr_pending");
    f.num = num;
    f.count = Count::fixed(num);
    SchemaSet neu = corpus();
    to_padding(neu);
    CheckReport c = check_compat(old, neu);
    EXPECT_THAT(summary(c), ElementsAre(expect)) << num;
  }
}

TEST(CheckTrust, RepeatedFindingsAreSaidOnce) {
  Subsection extra;
  extra.description.name = "i8259/extra";
  extra.description.version_id = extra.description.minimum_version_id = 1;
  extra.description.fields = std::vector<Field>{};
  CheckReport r = mutate([&](SchemaSet& s) {
    for (auto& d : s.devices) {
      if (d.description.name != "i8259") continue;
      if (!d.description.subsections) d.description.subsections.emplace();
      // Listed twice in one dump (QEMU 10.2's sd-card does this), on every type sending "i8259".
      d.description.subsections->push_back(extra);
      d.description.subsections->push_back(extra);
    }
  });
  ASSERT_THAT(summary(r), ElementsAre("subsection-added [i8259/extra] ok/risk"));
  EXPECT_FALSE(r.findings[0].same_in.empty());
  EXPECT_GE(r.merged, 3u);
  EXPECT_NE(render_check_text(r).find("same in: "), std::string::npos);
}

TEST(CheckTrust, ReportOpensWithDeviceByDirectionVerdicts) {
  CheckReport r = mutate([](SchemaSet& s) {
    device(s, "mc146818rtc").description.version_id = 4;  // backward breaks
    field(device(s, "isa-serial").description, "state").version_id = 0;
    std::erase_if(s.devices, [](const DeviceSchema& d) { return d.key == "pci-piix3"; });
  });
  ASSERT_FALSE(r.devices.empty());
  auto rtc = std::find_if(r.devices.begin(), r.devices.end(),
                          [](const DeviceVerdict& d) { return d.device == "mc146818rtc"; });
  ASSERT_NE(rtc, r.devices.end());
  EXPECT_EQ(rtc->forward, Verdict::ok);
  EXPECT_EQ(rtc->backward, Verdict::breaks);
  std::string text = render_check_text(r);
  // The table comes before the first finding's details.
  auto table = text.find("device (section)");
  auto details = text.find("mc146818rtc (section");
  ASSERT_NE(table, std::string::npos);
  ASSERT_NE(details, std::string::npos);
  EXPECT_LT(table, details);
  EXPECT_NE(text.find("mc146818rtc (mc146818rtc)"), std::string::npos);
  auto j = nlohmann::json::parse(render_check_json(r));
  EXPECT_EQ(j["devices"].size(), r.devices.size());
}

TEST(CheckTrust, DevicesFromJudgesOnlyWhatTheStreamSends) {
  auto mutation = [](SchemaSet& s) {
    device(s, "mc146818rtc").description.version_id = 4;  // sent by every corpus VM
    device(s, "e1000").description.version_id = 99;       // sent by none of the isapc VM's
  };
  SentContent sent;
  sent.sections = {"mc146818rtc", "timer"};
  CheckOptions opt;
  opt.sent = &sent;
  CheckReport r = mutate(mutation, opt);
  EXPECT_THAT(summary(r), ElementsAre("version-raised  ok/breaks"));
  EXPECT_EQ(r.findings[0].device, "mc146818rtc");
  EXPECT_EQ(r.filtered, 1u);
  EXPECT_THAT(summary(mutate(mutation)), ElementsAre("version-raised  ok/breaks", "version-raised  ok/breaks"));
}

TEST(CheckTrust, DevicesFromSkipsSubsectionsTheStreamDidNotSend) {
  // mc146818rtc's irq_reinject_on_ack_count subsection: removed in the new
  // build; a VM that never sent it is unaffected.
  auto mutation = [](SchemaSet& s) {
    auto& d = device(s, "mc146818rtc").description;
    ASSERT_TRUE(d.subsections && !d.subsections->empty());
    d.subsections->erase(d.subsections->begin());
  };
  CheckReport all = mutate(mutation);
  ASSERT_EQ(all.findings.size(), 1u);
  EXPECT_EQ(all.findings[0].rule, "subsection-removed");
  SentContent sent;
  sent.sections = {"mc146818rtc"};
  CheckOptions opt;
  opt.sent = &sent;
  EXPECT_TRUE(mutate(mutation, opt).findings.empty());
  const std::string name = all.findings[0].path.substr(1, all.findings[0].path.size() - 2);
  sent.subsections = {name};
  EXPECT_EQ(mutate(mutation, opt).findings.size(), 1u);
  // A section the stream's schemas could not decode keeps every finding.
  sent.subsections.clear();
  sent.undecoded = {"mc146818rtc"};
  EXPECT_EQ(mutate(mutation, opt).findings.size(), 1u);
}

TEST(CheckTrust, DevicesFromCommandReadsARealStream) {
  testing::TempDir t;
  SchemaSet neu = corpus();
  device(neu, "mc146818rtc").description.version_id = 4;
  device(neu, "e1000").description.version_id = 99;
  auto path = t.path / "new.json";
  std::ofstream(path) << to_schema_json(neu);
  const std::string old = (testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string();
  for (std::string stream : {"isapc-ne2k-paused.mig", "q35-7.2-novmdesc-running1s.mig"}) {
    SCOPED_TRACE(stream);
    auto r = testing::run(testing::cli() + " check '" + old + "' '" + path.string() +
                          "' --devices-from '" + (testing::corpus_dir() / stream).string() + "'");
    EXPECT_EQ(r.exit_code, 1) << r.out;  // mc146818rtc breaks backward
    EXPECT_NE(r.out.find("mc146818rtc"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("e1000 ("), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("left out"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace statewire
