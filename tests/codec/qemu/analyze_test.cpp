// `analyze` on real streams: page counts agree with QEMU's own migration
// statistics, the state JSON has analyze-migration.py's layout (and equals
// its output when the script is available), the summary says which schema
// explained each section.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "statewire/qemu_analyze.hpp"
#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

using statewire::testing::corpus_dir;
using statewire::testing::corpus_files;
using statewire::testing::read_bytes;
using statewire::testing::read_file;

std::uint64_t meta_number(const std::string& meta, const std::string& key) {
  std::smatch m;
  std::regex re("[ ,]" + key + "=([0-9]+)");
  if (!std::regex_search(meta, m, re)) return ~std::uint64_t(0);
  return std::stoull(m[1]);
}

TEST(QemuAnalyze, PageCountsMatchQemusOwnMigrationStatistics) {
  for (const auto& f : corpus_files(".mig")) {
    SCOPED_TRACE(f.filename().string());
    std::string meta = read_file(f.string() + ".meta.txt");
    auto r = analyze_qemu_stream(read_bytes(f));
    ASSERT_TRUE(r) << r.error().to_string();
    const RamReport& ram = r->report.ram;
    // QEMU counts zero pages as "duplicate" and full pages as "normal".
    EXPECT_EQ(ram.zero_pages + ram.fill_pages, meta_number(meta, "duplicate"));
    EXPECT_EQ(ram.full_pages, meta_number(meta, "normal"));
    EXPECT_EQ(ram.total, meta_number(meta, "total"));
    EXPECT_EQ(ram.eos, 3u);  // START, PART, END each end with EOS
  }
}

TEST(QemuAnalyze, StateJsonHasAnalyzeMigrationLayout) {
  auto in = read_bytes(corpus_dir() / "isapc-ne2k-paused.mig");
  AnalyzeOptions opt;
  opt.state_json = true;
  auto r = analyze_qemu_stream(in, opt);
  ASSERT_TRUE(r) << r.error().to_string();
  auto j = nlohmann::ordered_json::parse(r->state_json);
  ASSERT_TRUE(j.contains("ram (2)"));
  EXPECT_EQ(j["ram (2)"]["section sizes"]["pc.ram"], "0x0000000001000000");  // -m 16
  EXPECT_EQ(j.begin().key(), "ram (2)");
  ASSERT_TRUE(j.contains("cpu (6)"));
  EXPECT_EQ(j["cpu (6)"]["env.eip"], "0x000000000000fff0");
  EXPECT_EQ(j["cpu (6)"]["env.regs"].size(), 16u);
  // Non-integer types print as hex bytes, as the trailer's type decides.
  EXPECT_EQ(j["timer (0)"]["unused"], "00 00 00 00 00 00 00 00");
  EXPECT_EQ(j["cpu (6)"]["env.fpregs"][0]["tmp"], "00 00 00 00 00 00 00 00 00 00");
}

std::filesystem::path analyze_migration_py() {
  if (const char* env = std::getenv("STATEWIRE_ANALYZE_MIGRATION_PY")) return env;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/tmp/qemu-src", ec)) {
    auto p = e.path() / "scripts" / "analyze-migration.py";
    if (std::filesystem::exists(p)) return p;
  }
  return {};
}

TEST(QemuAnalyze, StateJsonEqualsAnalyzeMigrationPyOutput) {
  auto script = analyze_migration_py();
  if (script.empty() || statewire::testing::run("python3 --version").exit_code != 0)
    GTEST_SKIP() << "QEMU's analyze-migration.py not found (set STATEWIRE_ANALYZE_MIGRATION_PY)";
  for (const auto& f : corpus_files(".mig")) {
    if (f.filename().string().find("novmdesc") != std::string::npos) continue;  // the script needs a trailer
    SCOPED_TRACE(f.filename().string());
    auto py = statewire::testing::run("python3 '" + script.string() + "' -f '" + f.string() + "'");
    ASSERT_EQ(py.exit_code, 0) << py.out.substr(0, 500);
    AnalyzeOptions opt;
    opt.state_json = true;
    auto r = analyze_qemu_stream(read_bytes(f), opt);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->state_json, py.out);
  }
}

TEST(QemuAnalyze, SummarySaysWhichSchemaExplainedEachSection) {
  auto in = read_bytes(corpus_dir() / "q35-7.2-novmdesc-running1s.mig");
  auto dump = load_schema_file((corpus_dir() / "vmstate-pc-q35-5.2.json").string());
  ASSERT_TRUE(dump);
  AnalyzeOptions opt;
  opt.decode.dump = &*dump;
  auto r = analyze_qemu_stream(in, opt);
  ASSERT_TRUE(r) << r.error().to_string();
  std::map<std::string, SchemaSource> by_name;
  for (const auto& s : r->report.sections) by_name[s.summary.header.idstr] = s.summary.source;
  EXPECT_EQ(by_name["ram"], SchemaSource::ram);
  EXPECT_EQ(by_name["mc146818rtc"], SchemaSource::dump);
  EXPECT_EQ(by_name["cpu"], SchemaSource::opaque);  // -dump-vmstate has no cpu entry
  // Test-gated fields (PCI config: 256 or 4096 bytes): one reading fits the footer.
  EXPECT_EQ(by_name["0000:00:00.0/mch"], SchemaSource::dump);
  EXPECT_EQ(by_name["fw_cfg"], SchemaSource::dump);
  EXPECT_EQ(by_name["dma"], SchemaSource::opaque);  // arrays: the dump has no counts
  EXPECT_FALSE(r->report.trailer_offset.has_value());
  std::string text = report_text(r->report);
  EXPECT_NE(text.find("machine pc-q35-7.2"), std::string::npos);
  EXPECT_NE(text.find("description trailer: none"), std::string::npos);
  EXPECT_NE(text.find("dump"), std::string::npos);
}

}  // namespace
}  // namespace statewire::qemu
