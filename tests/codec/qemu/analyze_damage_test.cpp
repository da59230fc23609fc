// `analyze` on damaged streams: a damaged description trailer is a warning
// (the other schema sources explain the sections, convert still gives the
// bytes back), names a loader cannot match are anomalies, and a truncated
// stream gives a report of everything before the damage plus the error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "codec/qemu/trailer.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

using statewire::testing::corpus_dir;
using statewire::testing::corpus_files;
using statewire::testing::read_bytes;

std::size_t trailer_offset(const std::vector<std::uint8_t>& in) {
  auto t = detail::locate_trailer(in);
  return t && *t ? (*t)->offset : 0;
}

// Streams with a trailer whose JSON is damaged in two ways: not an object
// (locate_trailer finds it and fails), or cut short (it no longer ends in '}').
std::vector<std::pair<std::string, std::vector<std::uint8_t>>> damaged_trailers() {
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> out;
  for (const auto& f : corpus_files(".mig")) {
    auto bytes = read_bytes(f);
    std::size_t t = trailer_offset(bytes);
    if (!t) continue;
    auto a = bytes;
    a[t + 5] = 'x';
    out.emplace_back(f.filename().string() + " (not an object)", std::move(a));
    bytes.back() = ' ';
    out.emplace_back(f.filename().string() + " (cut short)", std::move(bytes));
  }
  return out;
}

TEST(QemuAnalyzeDamage, DamagedTrailerIsAWarningAndOtherSourcesExplainSections) {
  auto dump = load_schema_file((corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
  ASSERT_TRUE(dump) << dump.error().to_string();
  auto cases = damaged_trailers();
  ASSERT_GE(cases.size(), 10u);
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    AnalyzeOptions opt;
    opt.decode.dump = &*dump;
    opt.decode.registered = builtin_qemu_descriptions();
    opt.decode.schema_order = {SchemaSource::registered, SchemaSource::dump};
    opt.keep_partial = true;
    auto r = analyze_qemu_stream(bytes, opt);
    ASSERT_TRUE(r) << r.error().to_string();
    if (name.find("legacy") != std::string::npos) {
      // No footers either: nothing can tell where a section the dump cannot
      // decode ends, and the scan says which one.
      ASSERT_TRUE(r->stopped);
      EXPECT_EQ(r->stopped->code, Errc::unsupported);
      EXPECT_EQ(r->stopped->section, "cpu_common/0");
      continue;
    }
    EXPECT_FALSE(r->stopped) << r->stopped->to_string();
    ASSERT_EQ(r->report.warnings.size(), 1u);
    EXPECT_EQ(r->report.warnings[0].code, Errc::schema_invalid);
    EXPECT_EQ(r->report.warnings[0].offset, trailer_offset(read_bytes(corpus_dir() / name.substr(0, name.find(' ')))));
    EXPECT_TRUE(r->report.anomalies.empty());
    std::size_t by_dump = 0, by_trailer = 0;
    for (const auto& s : r->report.sections) {
      by_dump += s.summary.source == SchemaSource::dump;
      by_trailer += s.summary.source == SchemaSource::trailer;
    }
    EXPECT_EQ(by_trailer, 0u);
    EXPECT_GT(by_dump, 3u);
    // convert keeps the damaged trailer as it was: the same bytes come back.
    auto tree = decode_qemu_stream(bytes, opt.decode);
    ASSERT_TRUE(tree) << tree.error().to_string();
    auto again = encode_qemu_stream(*tree);
    ASSERT_TRUE(again) << again.error().to_string();
    EXPECT_TRUE(*again == bytes);
  }
}

TEST(QemuAnalyzeDamage, EmptySectionNameIsAnAnomaly) {
  auto bytes = read_bytes(corpus_dir() / "isapc-ne2k-paused.mig");
  const std::string needle = "\x05timer";
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, bytes.end());
  *it = 0;  // the idstr length byte
  auto r = analyze_qemu_stream(bytes);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->report.anomalies.size(), 1u);
  const Error& a = r->report.anomalies[0];
  EXPECT_EQ(a.code, Errc::unknown_section);
  EXPECT_EQ(a.field_path, "idstr");
  EXPECT_EQ(a.offset, static_cast<std::uint64_t>(it - bytes.begin()) - 5);  // the record's type byte
  EXPECT_NE(report_text(r->report).find("anomalies"), std::string::npos);
}

TEST(QemuAnalyzeDamage, VersionNoSchemaEntryAcceptsIsAnAnomaly) {
  auto bytes = read_bytes(corpus_dir() / "isapc-ne2k-paused.mig");
  auto dump = load_schema_file((corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
  ASSERT_TRUE(dump);
  AnalyzeOptions opt;
  opt.decode.dump = &*dump;
  auto clean = analyze_qemu_stream(bytes, opt);
  ASSERT_TRUE(clean);
  // ISA and PCI ne2000 share the vmsd name "ne2000" (v2 and v3): v2 is accepted.
  EXPECT_TRUE(clean->report.anomalies.empty());
  const std::string needle = "\x06serial";
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, bytes.end());
  it[1 + 6 + 4 + 3] = 99;  // version_id low byte (after the name and instance id)
  auto r = analyze_qemu_stream(bytes, opt);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->report.anomalies.size(), 1u);
  EXPECT_EQ(r->report.anomalies[0].code, Errc::version_too_new);
  EXPECT_EQ(r->report.anomalies[0].field_path, "version_id");
}

TEST(QemuAnalyzeDamage, TruncatedStreamReportsEverySectionBeforeTheCut) {
  const auto bytes = read_bytes(corpus_dir() / "q35-5.2-ahci-hda-running2s.mig");
  auto full = analyze_qemu_stream(bytes);
  ASSERT_TRUE(full);
  const auto& secs = full->report.sections;
  ASSERT_GT(secs.size(), 20u);
  // Cut inside several sections, from the RAM START to the last device.
  for (std::size_t k = 1; k < secs.size(); k += secs.size() / 7) {
    const std::uint64_t cut = secs[k].summary.header.offset + 3;
    SCOPED_TRACE(cut);
    std::vector<std::uint8_t> head(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    AnalyzeOptions opt;
    opt.keep_partial = true;
    opt.state_json = true;
    auto r = analyze_qemu_stream(head, opt);
    ASSERT_TRUE(r) << r.error().to_string();
    ASSERT_TRUE(r->stopped.has_value());
    EXPECT_EQ(r->stopped->code, Errc::truncated);
    ASSERT_EQ(r->report.sections.size(), k);
    for (std::size_t i = 0; i < k; ++i)
      EXPECT_EQ(r->report.sections[i].summary.header.offset, secs[i].summary.header.offset);
    // The state JSON is a complete document of the sections read.
    auto j = nlohmann::json::parse(r->state_json, nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    EXPECT_NE(report_text(r->report, &*r->stopped).find("STOPPED"), std::string::npos);
    // Without keep_partial, the error alone.
    opt.keep_partial = false;
    EXPECT_FALSE(analyze_qemu_stream(head, opt));
  }
}

}  // namespace
}  // namespace statewire::qemu
