// `check` on the real QEMU 7.2 dumps: a dump against itself gives nothing,
// the two corpus dumps differ only in the machine type they were taken with,
// and one programmatic mutation per rule gives exactly that finding.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "check/check_fixture.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

using check_test::summary;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const SchemaSet& corpus() {
  static const SchemaSet set = [] {
    auto s = load_schema_file((testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
    EXPECT_TRUE(s) << s.error().to_string();
    return s ? *s : SchemaSet{};
  }();
  return set;
}

DeviceSchema& device(SchemaSet& s, std::string_view key) {
  for (auto& d : s.devices)
    if (d.key == key) return d;
  ADD_FAILURE() << "no device " << key;
  return s.devices.front();
}

Field& field(Description& d, std::string_view name) {
  for (auto& f : *d.fields)
    if (f.name == name) return f;
  ADD_FAILURE() << "no field " << name << " in " << d.name;
  return d.fields->front();
}

// Nested descriptions are shared and const; a mutation edits a copy.
Description& nested(Field& f) {
  auto copy = std::make_shared<Description>(*f.nested);
  Description& ref = *copy;
  f.nested = std::move(copy);
  return ref;
}

Field leaf(std::string name, std::uint64_t size, std::uint32_t version = 0) {
  Field f;
  f.name = std::move(name);
  f.size = size;
  f.version_id = version;
  return f;
}

std::vector<std::string> mutate(const std::function<void(SchemaSet&)>& m) {
  SchemaSet neu = corpus();
  m(neu);
  return summary(check_compat(corpus(), neu));
}

TEST(CheckCorpus, EveryDumpAgainstItselfGivesNothing) {
  for (const auto& path : testing::corpus_files(".json")) {
    auto s = load_schema_file(path.string());
    ASSERT_TRUE(s) << s.error().to_string();
    CheckReport r = check_compat(*s, *s);
    EXPECT_THAT(summary(r), IsEmpty()) << path;
    EXPECT_EQ(r.devices_compared, s->devices.size());
  }
}

TEST(CheckCorpus, TheTwoCorpusDumpsDifferOnlyInMachineType) {
  auto q35 = load_schema_file((testing::corpus_dir() / "vmstate-pc-q35-5.2.json").string());
  ASSERT_TRUE(q35);
  CheckReport r = check_compat(corpus(), *q35);
  EXPECT_THAT(summary(r), ElementsAre("machine-type-differs  ok/ok"));
  EXPECT_FALSE(r.breaking());
}

// serial's nested struct "state" holds divider(2, v2) rbr ier iir lcr mcr lsr
// msr scr (1 byte each) fcr_vmstate(1, v3); mc146818rtc (v3, min 1) holds
// cmos_data(128) cmos_index(1) unused(28) periodic_timer(8) ... base_rtc(8, v3).
TEST(CheckCorpus, FieldRemoved) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& st = nested(field(device(s, "isa-serial").description, "state"));
                st.fields->erase(st.fields->begin() + 1);  // rbr
              }),
              ElementsAre("field-removed state.rbr breaks/breaks"));
}

TEST(CheckCorpus, FieldRenamedAtSamePositionAndSize) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                field(device(s, "mc146818rtc").description, "cmos_index").name = "index";
              }),
              ElementsAre("field-renamed cmos_index ok/ok"));
}

TEST(CheckCorpus, FieldSizeChanged) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                field(device(s, "mc146818rtc").description, "cmos_index").size = 4;
              }),
              ElementsAre("field-size-changed cmos_index breaks/breaks"));
}

TEST(CheckCorpus, FieldReordered) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& fs = *device(s, "mc146818rtc").description.fields;
                std::swap(fs[0], fs[1]);  // cmos_data <-> cmos_index
              }),
              ElementsAre("field-reordered cmos_data breaks/breaks"));
}

TEST(CheckCorpus, UngatedFieldAppended) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                device(s, "mc146818rtc").description.fields->push_back(leaf("extra", 4));
              }),
              ElementsAre("field-added extra breaks/breaks"));
}

TEST(CheckCorpus, VersionedFieldAppendedWithBump) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& d = device(s, "mc146818rtc");
                d.description.version_id = 4;
                d.description.fields->push_back(leaf("extra", 4, 4));
              }),
              ElementsAre("version-raised  ok/breaks", "field-added extra ok/breaks"));
}

TEST(CheckCorpus, VersionedFieldInBumpedNestedStruct) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& st = nested(field(device(s, "isa-serial").description, "state"));
                st.version_id = 4;
                st.fields->push_back(leaf("extra", 4, 4));
              }),
              ElementsAre("nested-version-changed state ok/ok",
                          "field-added state.extra breaks/breaks"));
}

TEST(CheckCorpus, SectionVersionRaised) {
  EXPECT_THAT(mutate([](SchemaSet& s) { device(s, "mc146818rtc").description.version_id = 4; }),
              ElementsAre("version-raised  ok/breaks"));
}

TEST(CheckCorpus, MinimumVersionRaisedAboveOldVersion) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& d = device(s, "mc146818rtc").description;
                d.version_id = 4;
                d.minimum_version_id = 4;
              }),
              ElementsAre("version-raised  ok/breaks", "minimum-version-raised  breaks/ok"));
}

TEST(CheckCorpus, FieldVersionRaisedPastSection) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                field(device(s, "mc146818rtc").description, "base_rtc").version_id = 4;
              }),
              ElementsAre("field-version-changed base_rtc breaks/breaks"));
}

TEST(CheckCorpus, FieldTestAdded) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                field(device(s, "mc146818rtc").description, "cmos_index").test = "";
              }),
              ElementsAre("field-test-added cmos_index risk/risk"));
}

TEST(CheckCorpus, FieldReplacedByUnused) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                field(device(s, "mc146818rtc").description, "cmos_index").name = "unused";
              }),
              ElementsAre("field-replaced-by-unused cmos_index ok/ok"));
}

TEST(CheckCorpus, UnusedSizeMismatch) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                field(device(s, "mc146818rtc").description, "unused").size = 24;
              }),
              ElementsAre("unused-size-mismatch unused breaks/breaks"));
}

TEST(CheckCorpus, FieldsWrappedIntoNestedStruct) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& fs = *device(s, "mc146818rtc").description.fields;
                auto wrapped = std::make_shared<Description>();
                wrapped->name = "rtc_cmos";
                wrapped->version_id = wrapped->minimum_version_id = 1;
                wrapped->fields.emplace(fs.begin(), fs.begin() + 2);
                Field st = leaf("cmos", 136);
                st.kind = FieldKind::structure;
                st.nested = wrapped;
                fs.erase(fs.begin(), fs.begin() + 2);
                fs.insert(fs.begin(), st);
              }),
              ElementsAre("fields-wrapped cmos_data ok/ok"));
}

TEST(CheckCorpus, SubsectionAdded) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& st = nested(field(device(s, "isa-serial").description, "state"));
                Subsection sub;
                sub.description.name = "serial/extra";
                sub.description.version_id = sub.description.minimum_version_id = 1;
                sub.description.fields.emplace(1, leaf("extra", 4));
                st.subsections->push_back(sub);
              }),
              ElementsAre("subsection-added state.[serial/extra] ok/risk"));
}

TEST(CheckCorpus, SubsectionRemovedAndRenamed) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& st = nested(field(device(s, "isa-serial").description, "state"));
                st.subsections->erase(st.subsections->begin());
              }),
              ElementsAre("subsection-removed state.[serial/thr_ipending] risk/ok"));
  EXPECT_THAT(mutate([](SchemaSet& s) {
                auto& st = nested(field(device(s, "isa-serial").description, "state"));
                st.subsections->front().description.name = "serial/thr_pending";
              }),
              ElementsAre("subsection-renamed state.[serial/thr_ipending] risk/risk"));
}

TEST(CheckCorpus, SectionRemovedAddedRenamed) {
  EXPECT_THAT(mutate([](SchemaSet& s) {
                s.devices.erase(s.devices.begin() + 3);
              }),
              ElementsAre("section-removed  breaks/ok"));
  EXPECT_THAT(mutate([](SchemaSet& s) {
                DeviceSchema d = s.devices.front();
                d.key = d.name = "acme-new-device";
                d.description.name = "acme-new";
                s.devices.push_back(d);
              }),
              ElementsAre("section-added  ok/ok"));
  // Its subsection keeps the old "mc146818rtc/" prefix, which a loader of
  // section "rtc" would not read: a second, real consequence.
  EXPECT_THAT(mutate([](SchemaSet& s) { device(s, "mc146818rtc").description.name = "rtc"; }),
              ElementsAre("section-renamed  breaks/breaks",
                          "subsection-prefix-mismatch [mc146818rtc/irq_reinject_on_ack_count] "
                          "risk/ok"));
  EXPECT_THAT(mutate([](SchemaSet& s) { device(s, "isa-pcspk").description.name = "speaker"; }),
              ElementsAre("section-renamed  breaks/breaks"));
}

TEST(CheckCorpus, DeviceTypeRenamedWithSameSectionId) {
  EXPECT_THAT(mutate([](SchemaSet& s) { device(s, "mc146818rtc").key = "acme-rtc"; }),
              ElementsAre("device-renamed  ok/ok"));
}

TEST(CheckCorpus, FindingsNameTheDeviceAndSection) {
  SchemaSet neu = corpus();
  field(device(neu, "isa-serial").description, "state").nested = nullptr;  // struct -> leaf
  CheckReport r = check_compat(corpus(), neu);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].device, "isa-serial");
  EXPECT_EQ(r.findings[0].section, "serial");
  EXPECT_EQ(r.findings[0].rule, "field-kind-changed");
}

}  // namespace
}  // namespace statewire
