// Golden tests on small crafted pairs: one per rule of `statewire check`,
// asserting rule, field path and the verdict in each direction.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "check/check_fixture.hpp"

namespace statewire {
namespace {

using namespace check_test;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kA = fld("a", 4), kB = fld("b", 2), kC = fld("c", 1);

std::string base(const std::string& fields, int version = 2, int min = 1,
                 const std::string& subs = "") {
  return dev(desc("dev", version, min, fields, subs));
}

TEST(CheckRules, IdenticalDumpsGiveNoFindings) {
  std::string d = base(kA + "," + kB + "," + kC);
  EXPECT_THAT(check(d, d), IsEmpty());
}

TEST(CheckRules, FieldRemovedBreaksBothWays) {
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + kC)),
              ElementsAre("field-removed b breaks/breaks"));
}

TEST(CheckRules, FieldAppendedWithoutGateBreaksBothWays) {
  // QEMU's checker misses this one (extra destination fields are ignored).
  EXPECT_THAT(check(base(kA + "," + kB), base(kA + "," + kB + "," + fld("d", 4))),
              ElementsAre("field-added d breaks/breaks"));
}

TEST(CheckRules, VersionedFieldWithBumpIsForwardOnly) {
  EXPECT_THAT(check(base(kA), base(kA + "," + fld("d", 4, 3), 3)),
              ElementsAre("version-raised  ok/breaks", "field-added d ok/breaks"));
}

TEST(CheckRules, TestGatedNewFieldIsARisk) {
  EXPECT_THAT(check(base(kA), base(kA + "," + fld("d", 4, 0, true))),
              ElementsAre("field-added d risk/risk"));
}

TEST(CheckRules, RenameAtSameSizeAndPositionIsNotBreaking) {
  // QEMU's checker reports "expected field b, got bb" here.
  CheckReport r = check_compat(dump(base(kA + "," + kB + "," + kC)),
                               dump(base(kA + "," + fld("bb", 2) + "," + kC)));
  EXPECT_THAT(summary(r), ElementsAre("field-renamed b ok/ok"));
  EXPECT_FALSE(r.breaking());
  EXPECT_EQ(r.findings[0].severity, Severity::info);
}

TEST(CheckRules, RenameCarriesTheNewNameAsDataForItsRepair) {
  // The repair is built from Finding::new_name, not from the explanation's text.
  CheckReport r = check_compat(
      dump(base(kA + "," + st("s", 3, desc("inner", 1, 1, kB + "," + kC)))),
      dump(base(kA + "," + st("s", 3, desc("inner", 1, 1, fld("bb", 2) + "," + kC)))));
  ASSERT_THAT(summary(r), ElementsAre("field-renamed s.b ok/ok"));
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.new_name, "bb");
  ASSERT_TRUE(f.repair_transform.has_value());
  ASSERT_EQ(f.repair_transform->ops.size(), 1u);
  EXPECT_EQ(f.repair_transform->ops[0].kind, OpKind::rename_field);
  EXPECT_EQ(f.repair_transform->ops[0].path, "s.b");
  EXPECT_EQ(f.repair_transform->ops[0].name, "bb");
  EXPECT_THAT(f.repair_transform->when.has, ElementsAre("s.bb"));
  TransformSet set = repair_transforms(r);
  ASSERT_EQ(set.all().size(), 1u);
  EXPECT_EQ(set.all()[0].ops[0].name, "bb");
}

TEST(CheckRules, RenameWithDifferentSizeIsRemoveAndAdd) {
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + fld("bb", 4) + "," + kC)),
              ElementsAre("field-removed b breaks/breaks", "field-added bb breaks/breaks"));
}

TEST(CheckRules, ReorderedFieldBreaks) {
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + kC + "," + kB)),
              ElementsAre("field-reordered b breaks/breaks"));
}

TEST(CheckRules, ReorderAtEqualSizesStillBreaks) {
  // Same total length: QEMU's loader accepts it and swaps the values.
  EXPECT_THAT(check(base(fld("x", 4) + "," + fld("y", 4)), base(fld("y", 4) + "," + fld("x", 4))),
              ElementsAre("field-reordered x breaks/breaks"));
}

TEST(CheckRules, SizeChangeBreaks) {
  EXPECT_THAT(check(base(kA + "," + kB), base(fld("a", 8) + "," + kB)),
              ElementsAre("field-size-changed a breaks/breaks"));
}

TEST(CheckRules, SizeChangeOfFieldNeitherSideSendsIsHarmless) {
  // A _V(…, 5) field in a version-2 section is not on the wire either way.
  EXPECT_THAT(check(base(kA + "," + fld("z", 4, 5)), base(kA + "," + fld("z", 8, 5))),
              ElementsAre("field-size-changed z ok/ok"));
}

TEST(CheckRules, ArrayLengthChangeFoundWithCounts) {
  // The 7.2 dump has no element count; statewire's export and newer QEMUs do.
  EXPECT_THAT(check(base(fld("r", 4, 0, false, R"(, "num": 8)")),
                    base(fld("r", 4, 0, false, R"(, "num": 16)"))),
              ElementsAre("array-length-changed r breaks/breaks"));
}

TEST(CheckRules, SignednessChangeAtSameWidthIsRiskNotBreak) {
  EXPECT_THAT(check(base(fld("a", 4, 0, false, R"(, "type": "u32")")),
                    base(fld("a", 4, 0, false, R"(, "type": "i32")"))),
              ElementsAre("field-type-changed a risk/risk"));
}

TEST(CheckRules, FieldVersionRaisedAboveSectionVersionBreaksForward) {
  // QEMU's checker only compares SRC > DEST field versions.
  EXPECT_THAT(check(base(kA + "," + fld("b", 2, 1)), base(kA + "," + fld("b", 2, 3))),
              ElementsAre("field-version-changed b breaks/breaks"));
}

TEST(CheckRules, FieldVersionLoweredWithinRangeIsHarmless) {
  EXPECT_THAT(check(base(kA + "," + fld("b", 2, 2)), base(kA + "," + fld("b", 2, 1))),
              ElementsAre("field-version-changed b ok/ok"));
}

TEST(CheckRules, TestAddedOrRemovedIsARisk) {
  EXPECT_THAT(check(base(kA + "," + kB), base(kA + "," + fld("b", 2, 0, true))),
              ElementsAre("field-test-added b risk/risk"));
  EXPECT_THAT(check(base(kA + "," + fld("b", 2, 0, true)), base(kA + "," + kB)),
              ElementsAre("field-test-removed b risk/risk"));
}

TEST(CheckRules, FieldReplacedByUnusedOfSameSizeIsCompatible) {
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + fld("unused", 2) + "," + kC)),
              ElementsAre("field-replaced-by-unused b ok/ok"));
  // Two fields into one block of their combined size.
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + fld("unused", 3))),
              ElementsAre("field-replaced-by-unused b ok/ok"));
}

TEST(CheckRules, UnusedBytesReusedByFieldsLoadZerosForward) {
  EXPECT_THAT(check(base(kA + "," + fld("unused", 6)), base(kA + "," + fld("p", 4) + "," + kB)),
              ElementsAre("unused-reused p risk/ok"));
}

TEST(CheckRules, UnusedOfWrongSizeBreaks) {
  // Dumps that record element counts ("num"): b is 2 bytes, the padding 4.
  const std::string counted = fld("a", 4, 0, false, R"(, "num": 1)");
  EXPECT_THAT(check(base(counted + "," + kB + "," + kC),
                    base(counted + "," + fld("unused", 4) + "," + kC)),
              ElementsAre("unused-size-mismatch b breaks/breaks"));
  EXPECT_THAT(check(base(kA + "," + fld("unused", 4)), base(kA + "," + fld("unused", 8))),
              ElementsAre("unused-size-mismatch unused breaks/breaks"));
}

TEST(CheckRules, UnusedSizeAgainstAFieldOfUnknownCountIsARisk) {
  // QEMU 7.2's dumps show an array as one element: b (2 bytes) may be b[2],
  // whose 4 bytes the new padding matches (e1000e's bool[5] -> unused 5).
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + fld("unused", 4) + "," + kC)),
              ElementsAre("unused-size-unknown b risk/risk"));
  // No element count explains 3 bytes against 4 of padding.
  EXPECT_THAT(check(base(kA + "," + fld("b", 3) + "," + kC),
                    base(kA + "," + fld("unused", 4) + "," + kC)),
              ElementsAre("unused-size-mismatch b breaks/breaks"));
}

TEST(CheckRules, FieldsMovedIntoNestedStructAreCompatible) {
  std::string inner = desc("grp", 1, 1, kB + "," + kC);
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + st("grp", 64, inner))),
              ElementsAre("fields-wrapped b ok/ok"));
}

TEST(CheckRules, FieldsMovedIntoStructNamedLikeTheirFirstField) {
  std::string inner = desc("grp", 1, 1, kB + "," + kC);
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC), base(kA + "," + st("b", 64, inner))),
              ElementsAre("fields-wrapped b ok/ok"));
}

TEST(CheckRules, StructReplacedByLeafOfOtherLayoutBreaks) {
  std::string inner = desc("grp", 1, 1, kB + "," + kC);
  EXPECT_THAT(check(base(kA + "," + st("g", 64, inner)), base(kA + "," + fld("g", 8))),
              ElementsAre("field-kind-changed g breaks/breaks"));
}

TEST(CheckRules, NestedFieldsAreComparedRecursively) {
  std::string o = desc("inner", 1, 1, kB + "," + kC);
  std::string n = desc("inner", 1, 1, kB);
  EXPECT_THAT(check(base(kA + "," + st("s", 16, o)), base(kA + "," + st("s", 16, n))),
              ElementsAre("field-removed s.c breaks/breaks"));
}

TEST(CheckRules, VersionedFieldInBumpedNestedStructBreaksForward) {
  // QEMU's checker passes this: the nested version is not on the wire, so
  // the destination reads the _V field from old sources too.
  std::string o = desc("inner", 1, 1, kB);
  std::string n = desc("inner", 2, 1, kB + "," + fld("d", 4, 2));
  EXPECT_THAT(check(base(kA + "," + st("s", 16, o)), base(kA + "," + st("s", 16, n))),
              ElementsAre("nested-version-changed s ok/ok", "field-added s.d breaks/breaks"));
}

TEST(CheckRules, NestedChangesInsideAFieldNobodySendsAreMoot) {
  std::string o = desc("inner", 1, 1, kB);
  std::string n = desc("inner", 1, 1, kB + "," + fld("d", 4));
  EXPECT_THAT(check(base(kA + "," + st("s", 16, o, 7)), base(kA + "," + st("s", 16, n, 7))),
              ElementsAre("field-added s.d ok/ok"));
}

TEST(CheckRules, NestedDescriptionRenameIsNotOnTheWire) {
  std::string o = desc("inner", 1, 1, kB);
  std::string n = desc("inner2", 1, 1, kB);
  EXPECT_THAT(check(base(kA + "," + st("s", 16, o)), base(kA + "," + st("s", 16, n))),
              ElementsAre("nested-renamed s ok/ok"));
}

TEST(CheckRules, SectionVersionChanges) {
  EXPECT_THAT(check(base(kA, 2, 1), base(kA, 3, 1)), ElementsAre("version-raised  ok/breaks"));
  EXPECT_THAT(check(base(kA, 3, 1), base(kA, 2, 1)), ElementsAre("version-lowered  breaks/ok"));
}

TEST(CheckRules, MinimumVersionAboveOldVersionBreaksForward) {
  // QEMU's checker does not count this at the top level (dangling print).
  EXPECT_THAT(check(base(kA, 2, 1), base(kA, 3, 3)),
              ElementsAre("version-raised  ok/breaks", "minimum-version-raised  breaks/ok"));
  EXPECT_THAT(check(base(kA, 3, 1), base(kA, 3, 2)),
              ElementsAre("minimum-version-raised  ok/ok"));
  EXPECT_THAT(check(base(kA, 3, 2), base(kA, 3, 1)),
              ElementsAre("minimum-version-lowered  ok/ok"));
}

const std::string kSub = desc("dev/extra", 1, 1, fld("e", 4));
const std::string kSub2 = desc("dev/more", 1, 1, fld("m", 8));

TEST(CheckRules, NewSubsectionIsSafeForwardAndRiskyBackward) {
  CheckReport r = check_compat(dump(base(kA)), dump(base(kA, 2, 1, kSub)));
  EXPECT_THAT(summary(r), ElementsAre("subsection-added [dev/extra] ok/risk"));
  EXPECT_EQ(r.findings[0].severity, Severity::warning);
  CheckOptions fwd_only;
  fwd_only.direction = CheckDirection::forward;
  r = check_compat(dump(base(kA)), dump(base(kA, 2, 1, kSub)), fwd_only);
  EXPECT_EQ(r.findings[0].severity, Severity::info);
}

TEST(CheckRules, RemovedSubsectionIsRiskyForward) {
  EXPECT_THAT(check(base(kA, 2, 1, kSub + "," + kSub2), base(kA, 2, 1, kSub2)),
              ElementsAre("subsection-removed [dev/extra] risk/ok"));
}

TEST(CheckRules, RenamedSubsectionIsRiskyBothWays) {
  EXPECT_THAT(check(base(kA, 2, 1, kSub), base(kA, 2, 1, desc("dev/extra2", 1, 1, fld("e", 4)))),
              ElementsAre("subsection-renamed [dev/extra] risk/risk"));
}

TEST(CheckRules, SubsectionContentIsComparedWithItsOwnVersion) {
  std::string n = desc("dev/extra", 2, 1, fld("e", 4) + "," + fld("f", 4, 2));
  EXPECT_THAT(check(base(kA, 2, 1, kSub), base(kA, 2, 1, n)),
              ElementsAre("version-raised [dev/extra] ok/breaks",
                          "field-added [dev/extra].f ok/breaks"));
  std::string sized = desc("dev/extra", 1, 1, fld("e", 8));
  EXPECT_THAT(check(base(kA, 2, 1, kSub), base(kA, 2, 1, sized)),
              ElementsAre("field-size-changed [dev/extra].e breaks/breaks"));
}

TEST(CheckRules, SubsectionsOfNestedStructs) {
  std::string o = desc("inner", 1, 1, kB, desc("inner/x", 1, 1, kC));
  std::string n = desc("inner", 1, 1, kB);
  EXPECT_THAT(check(base(kA + "," + st("s", 8, o)), base(kA + "," + st("s", 8, n))),
              ElementsAre("subsection-removed s.[inner/x] risk/ok"));
}

TEST(CheckRules, RenamedParentStrandsItsSubsections) {
  // The loader stops at a subsection whose name lacks the parent's vmsd name.
  std::string o = desc("inner", 1, 1, kB, desc("inner/x", 1, 1, kC));
  std::string n = desc("core", 1, 1, kB, desc("inner/x", 1, 1, kC));
  EXPECT_THAT(check(base(kA + "," + st("s", 8, o)), base(kA + "," + st("s", 8, n))),
              ElementsAre("nested-renamed s ok/ok", "subsection-prefix-mismatch s.[inner/x] risk/ok"));
}

TEST(CheckRules, SectionsAddedRemovedRenamed) {
  std::string one = base(kA);
  std::string two = one + "," + dev(desc("other", 1, 1, kB), "other-dev");
  EXPECT_THAT(check(two, one), ElementsAre("section-removed  breaks/ok"));
  EXPECT_THAT(check(one, two), ElementsAre("section-added  ok/ok"));
  EXPECT_THAT(check(one, dev(desc("dev2", 2, 1, kA))),
              ElementsAre("section-renamed  breaks/breaks"));
}

TEST(CheckRules, DeviceTypeRenameWithSameSectionIdIsNotBreaking) {
  // QEMU's checker reports `Section "dev" does not exist in dest`.
  CheckReport r = check_compat(dump(base(kA)), dump(dev(desc("dev", 2, 1, kA), "dev-renamed")));
  EXPECT_THAT(summary(r), ElementsAre("device-renamed  ok/ok"));
  EXPECT_EQ(r.devices_compared, 1u);
}

TEST(CheckRules, DifferentMachineTypesAreNoted) {
  std::string d = base(kA);
  auto o = dump(d), n = dump(d);
  o.machine = "pc-i440fx-7.2";
  n.machine = "pc-q35-5.2";
  EXPECT_THAT(summary(check_compat(o, n)), ElementsAre("machine-type-differs  ok/ok"));
}

TEST(CheckRules, LaterFieldsAreStillCheckedAfterAMismatch) {
  // QEMU's checker skips the rest of the list after the first mismatch.
  EXPECT_THAT(check(base(kA + "," + kB + "," + kC + "," + fld("d", 4)),
                    base(kA + "," + kC + "," + fld("d", 8))),
              ElementsAre("field-removed b breaks/breaks", "field-size-changed d breaks/breaks"));
}

TEST(CheckRules, FindingsCarryDeviceSectionExplanationAndRepair) {
  CheckReport r = check_compat(dump(base(kA + "," + kB)), dump(base(kA)));
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.device, "dev");
  EXPECT_EQ(f.section, "dev");
  EXPECT_EQ(f.severity, Severity::error);
  EXPECT_NE(f.explanation.find("b (2 bytes)"), std::string::npos) << f.explanation;
  EXPECT_NE(f.repair.find("VMSTATE_UNUSED(2)"), std::string::npos) << f.repair;
  EXPECT_FALSE(f.transform.empty());
}

}  // namespace
}  // namespace statewire

namespace statewire {
namespace {

// A hostile dump with huge field lists must not make the alignment allocate
// a quadratic table or the reorder search run quadratically.
SchemaSet wide(std::size_t n, bool reversed, const char* prefix) {
  SchemaSet s;
  DeviceSchema d;
  d.key = d.name = d.description.name = "dev";
  d.description.fields.emplace();
  for (std::size_t i = 0; i < n; ++i) {
    Field f;
    f.name = fmt::format("{}{}", prefix, reversed ? n - 1 - i : i);
    f.size = 4;
    d.description.fields->push_back(std::move(f));
  }
  s.devices.push_back(std::move(d));
  return s;
}

TEST(CheckRules, HugeFieldListsAreAlignedWithoutQuadraticTable) {
  constexpr std::size_t kN = 30000;
  CheckReport renamed = check_compat(wide(kN, false, "f"), wide(kN, false, "g"));
  EXPECT_EQ(renamed.findings.size(), kN);
  EXPECT_FALSE(renamed.breaking());
  CheckReport reversed = check_compat(wide(kN, false, "f"), wide(kN, true, "f"));
  EXPECT_EQ(reversed.findings.size(), kN - 1);
  EXPECT_EQ(reversed.findings.front().rule, "field-reordered");
  EXPECT_TRUE(reversed.breaking());
}

}  // namespace
}  // namespace statewire
