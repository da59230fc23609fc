#include "statewire/validate.hpp"

#include <gtest/gtest.h>

#include "statewire/qemu_stream.hpp"
#include "statewire/schema_catalog.hpp"
#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

StateStream decode(const std::filesystem::path& p) {
  auto bytes = testing::read_bytes(p);
  auto s = qemu::decode_qemu_stream(ByteSpan(bytes.data(), bytes.size()));
  EXPECT_TRUE(s) << s.error().to_string();
  return s ? std::move(*s) : StateStream{};
}

SchemaCatalog trailer_of(const StateStream& s) {
  const Value* t = s.envelope.find(qemu::keys::kTrailer);
  if (!t || !t->get_if<std::string>()) return {};
  auto c = SchemaCatalog::from_trailer(*t->get_if<std::string>());
  EXPECT_TRUE(c) << c.error().to_string();
  return c ? std::move(*c) : SchemaCatalog{};
}

StreamValidation validate_with(const StateStream& s, const SchemaCatalog& c,
                               ValidateOptions opt = {}) {
  return validate_stream(
      s, [&c](const Section& x) { return c.find_all(x.name, x.instance_id); }, opt);
}

Section* find_section(StateStream& s, std::string_view name) {
  for (auto& x : s.sections)
    if (x.name == name) return &x;
  return nullptr;
}

const std::string kStream = "i440fx-7.2-random-ram-4m-paused.mig";

TEST(Validate, EveryCorpusStreamMatchesItsOwnTrailer) {
  int with_trailer = 0;
  for (const auto& p : testing::corpus_files(".mig")) {
    StateStream s = decode(p);
    SchemaCatalog c = trailer_of(s);
    if (c.empty()) continue;
    ++with_trailer;
    auto v = validate_with(s, c);
    EXPECT_TRUE(v.ok()) << p << ": " << (v.ok() ? "" : v.problems[0].to_string());
    EXPECT_FALSE(v.unchecked.empty()) << "RAM is sent in records and is not checked";
  }
  EXPECT_GE(with_trailer, 5);
}

TEST(Validate, CorpusStreamMatchesQemuDumpOfItsRelease) {
  auto dump = load_schema_file((testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
  ASSERT_TRUE(dump);
  SchemaCatalog c = SchemaCatalog::from_dump(*dump);
  ValidateOptions opt;
  opt.dump_schema = true;
  for (const auto& p : testing::corpus_files(".mig")) {
    auto v = validate_with(decode(p), c, opt);
    EXPECT_TRUE(v.ok()) << p << ": " << (v.ok() ? "" : v.problems[0].to_string());
  }
}

TEST(Validate, DeletedFieldIsReportedWithItsPath) {
  StateStream s = decode(testing::corpus_dir() / kStream);
  SchemaCatalog c = trailer_of(s);
  Section* fw = find_section(s, "fw_cfg");
  ASSERT_NE(fw, nullptr);
  ASSERT_EQ(fw->body.members.front().name, "cur_entry");
  fw->body.members.erase(fw->body.members.begin());
  auto v = validate_with(s, c);
  ASSERT_EQ(v.problems.size(), 1u) << v.problems[0].to_string();
  EXPECT_EQ(v.problems[0].code, Errc::not_found);
  EXPECT_EQ(v.problems[0].section, "fw_cfg/0");
  EXPECT_EQ(v.problems[0].field_path, "cur_entry");
}

TEST(Validate, WidenedFieldIsAWidthMismatch) {
  StateStream s = decode(testing::corpus_dir() / kStream);
  SchemaCatalog c = trailer_of(s);
  Section* fw = find_section(s, "fw_cfg");
  ASSERT_NE(fw, nullptr);
  Value& v0 = fw->body.members.front().value;
  ASSERT_NE(v0.get_if<std::uint16_t>(), nullptr);
  v0 = Value(std::uint32_t{*v0.get_if<std::uint16_t>()});
  auto v = validate_with(s, c);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0].code, Errc::mismatch);
  EXPECT_EQ(v.problems[0].field_path, "cur_entry");
  EXPECT_NE(v.problems[0].message.find("u16 (2 bytes)"), std::string::npos) << v.problems[0].message;
}

TEST(Validate, NestedAndSubsectionPathsAndAllProblemsAreReported) {
  StateStream s = decode(testing::corpus_dir() / kStream);
  SchemaCatalog c = trailer_of(s);
  Section* fw = find_section(s, "fw_cfg");
  ASSERT_NE(fw, nullptr);
  ASSERT_GE(fw->body.subsections.size(), 2u);
  // A field missing inside a subsection, and a subsection the destination lacks.
  auto& acpi = fw->body.subsections[1];
  ASSERT_EQ(acpi.name, "fw_cfg/acpi_mr");
  acpi.body.members.pop_back();
  fw->body.subsections.push_back({"fw_cfg/unheard_of", 1, Struct{}});
  auto v = validate_with(s, c);
  ASSERT_EQ(v.problems.size(), 2u);
  EXPECT_EQ(v.problems[0].field_path, "[fw_cfg/acpi_mr].rsdp_mr_size");
  EXPECT_EQ(v.problems[1].code, Errc::unknown_subsection);
  EXPECT_EQ(v.problems[1].field_path, "[fw_cfg/unheard_of]");
}

TEST(Validate, VersionOutsideTheDestinationsRangeIsRefused) {
  StateStream s = decode(testing::corpus_dir() / kStream);
  SchemaCatalog c = trailer_of(s);
  Section* fw = find_section(s, "fw_cfg");
  ASSERT_NE(fw, nullptr);
  fw->version_id += 1;
  auto v = validate_with(s, c);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0].code, Errc::version_too_new);
  EXPECT_EQ(v.problems[0].section, "fw_cfg/0");
}

TEST(Validate, UnknownSectionIsRefusedUnlessTheSchemaIsADump) {
  StateStream s = decode(testing::corpus_dir() / kStream);
  SchemaCatalog c = trailer_of(s);
  Section extra = *find_section(s, "fw_cfg");
  extra.name = "no_such_device";
  s.sections.push_back(extra);
  auto v = validate_with(s, c);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0].code, Errc::unknown_section);
  EXPECT_EQ(v.problems[0].section, "no_such_device/0");
}

TEST(Validate, TestGatedFieldsFollowThePredicateWhenOneIsGiven) {
  Description d;
  d.name = "dev";
  d.version_id = 1;
  d.fields = std::vector<Field>{};
  Field a;
  a.name = "a";
  a.kind = FieldKind::u32;
  a.size = 4;
  Field b = a;
  b.name = "b";
  b.test = "has_b";
  d.fields->push_back(a);
  d.fields->push_back(b);
  Struct body;
  body.members.push_back({"a", Value(std::uint32_t{1})});
  body.members.push_back({"b", Value(std::uint32_t{2})});
  // Without a predicate the source decides: b was sent.
  EXPECT_TRUE(validate_body(body, d, 1, "dev/0").empty());
  TestResolver no_b{{"has_b", [](const Struct&, std::uint32_t) { return std::optional<bool>(false); }}};
  ValidateOptions opt;
  opt.tests = &no_b;
  auto p = validate_body(body, d, 1, "dev/0", opt);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].field_path, "b");
  body.members.pop_back();
  TestResolver yes_b{{"has_b", [](const Struct&, std::uint32_t) { return std::optional<bool>(true); }}};
  opt.tests = &yes_b;
  p = validate_body(body, d, 1, "dev/0", opt);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].code, Errc::not_found);
}

}  // namespace
}  // namespace statewire
