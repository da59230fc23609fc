// `statewire report` on real streams: one self-contained HTML file (nothing
// fetched), with the device sizes, the RAM map as runs, the section list and,
// with a second stream, the field-level differences; names from the stream
// are escaped; a damaged stream still gets its page and exit 1.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

using Json = nlohmann::ordered_json;

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Nothing in the page may make a browser fetch anything.
void expect_self_contained(const std::string& html) {
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find(" href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
}

TEST(ReportCli, QemuStreamPageHasSizesRamMapAndSections) {
  TempDir t;
  const auto in = (corpus_dir() / "q35-5.2-ahci-hda-running2s.mig").string();
  const auto out = (t.path / "r.html").string();
  auto r = run(cli() + " report '" + in + "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string html = read_file(out);
  expect_self_contained(html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("pc-q35-5.2"), std::string::npos);
  // The device chart names the largest device, the section list the schema source.
  EXPECT_NE(html.find("aria-label=\"device sizes\""), std::string::npos);
  EXPECT_NE(html.find(">hda-audio/0<"), std::string::npos);
  EXPECT_NE(html.find("class=\"src-trailer\">trailer<"), std::string::npos);
  // Every RAM block has its map; pc.ram (64 MiB) as runs, not 16384 rows.
  const auto analyze = run(cli() + " analyze '" + in + "'");
  ASSERT_EQ(analyze.exit_code, 0);
  for (const char* block : {"pc.ram", "pc.bios", "0000:00:01.0/vga.vram", "/rom@etc/acpi/tables"})
    EXPECT_NE(html.find(std::string("aria-label=\"RAM map of ") + block + "\""), std::string::npos) << block;
  EXPECT_NE(html.find("64.0 MiB (16384 pages of 4.0 KiB)"), std::string::npos);
  EXPECT_LT(html.size(), 200u * 1024);
  // The section table lists every section record analyze lists.
  const std::regex records("(\\d+) section records:");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(analyze.out, m, records));
  EXPECT_NE(html.find("<td>section records</td><td>" + m[1].str() + " ("), std::string::npos);
  EXPECT_EQ(count(html, "<tr><td class=\"n\" data-v="), std::stoul(m[1].str()));
}

TEST(ReportCli, RamMapCountsMatchAnalyze) {
  TempDir t;
  const auto in = (corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig").string();
  const auto out = (t.path / "r.html").string();
  ASSERT_EQ(run(cli() + " report '" + in + "' -o '" + out + "'").exit_code, 0);
  const std::string html = read_file(out);
  // analyze's per-block counts (zero, fill, page) appear as the map's counts.
  const auto analyze = run(cli() + " analyze '" + in + "'");
  const std::regex row("\\n  (\\S+) +0x([0-9a-f]+) +(\\d+) +(\\d+) +(\\d+)(?=\\n)");
  std::size_t blocks = 0;
  for (auto it = std::sregex_iterator(analyze.out.begin(), analyze.out.end(), row);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& b = *it;
    const std::string expect = "data " + b[5].str() + " · zero " + b[3].str() + " · filled " + b[4].str();
    EXPECT_NE(html.find(expect), std::string::npos) << b[1] << ": " << expect;
    ++blocks;
  }
  EXPECT_GE(blocks, 3u);
  // The same stream as a framed file, read from standard input: the same maps.
  const auto framed = (t.path / "s.swf").string();
  ASSERT_EQ(run(cli() + " convert '" + in + "' '" + framed + "' --to framed").exit_code, 0);
  const auto out2 = (t.path / "f.html").string();
  ASSERT_EQ(run(cli() + " report - -o '" + out2 + "' < '" + framed + "'").exit_code, 0);
  const std::string html2 = read_file(out2);
  EXPECT_NE(html2.find("<td>file</td><td>(standard input)</td>"), std::string::npos);
  EXPECT_NE(html2.find("statewire framed stream"), std::string::npos);
  const std::regex counts("data \\d+ · zero \\d+ · filled \\d+ · not sent \\d+");
  std::vector<std::string> a, b;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), counts); it != std::sregex_iterator(); ++it)
    a.push_back(it->str());
  for (auto it = std::sregex_iterator(html2.begin(), html2.end(), counts); it != std::sregex_iterator(); ++it)
    b.push_back(it->str());
  EXPECT_EQ(a.size(), blocks);
  EXPECT_EQ(a, b);
}

TEST(ReportCli, HostileNamesAreEscaped) {
  TempDir t;
  const auto in = (corpus_dir() / "isapc-ne2k-paused.mig").string();
  const auto js = (t.path / "s.json").string();
  ASSERT_EQ(run(cli() + " convert '" + in + "' '" + js + "' --to json").exit_code, 0);
  Json j = Json::parse(read_file(js));
  bool renamed = false, block_renamed = false;
  for (auto& sec : j["sections"]) {
    if (sec["name"] == "serial") {
      sec["name"] = "<script>alert(1)</script>";
      renamed = true;
    }
    if (sec["name"] == "ram" && !block_renamed)
      for (auto& f : sec["fields"])
        for (auto& rec : f["items"])
          for (auto& m : rec["fields"])
            if (m["n"] == "block" && m["v"] == "pc.ram") {
              m["v"] = "\"><img src=x onerror=alert(2)>";
              block_renamed = true;
            }
  }
  ASSERT_TRUE(renamed && block_renamed);
  const auto hostile = (t.path / "h.json").string();
  std::ofstream(hostile) << j.dump();
  const auto out = (t.path / "r.html").string();
  auto r = run(cli() + " report '" + hostile + "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string html = read_file(out);
  // The hostile name itself holds " src=", as escaped text.
  expect_self_contained(std::regex_replace(html, std::regex("&lt;img src=x"), "&lt;img"));
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;/0"), std::string::npos);
  EXPECT_NE(html.find("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
  // Only the page's own two scripts.
  EXPECT_EQ(count(html, "<script>"), 2u);
  EXPECT_NE(html.find("statewire tree JSON"), std::string::npos);
}

TEST(ReportCli, ManySectionsMakeABoundedPage) {
  TempDir t;
  const auto in = (corpus_dir() / "isapc-ne2k-paused.mig").string();
  const auto js = (t.path / "s.json").string();
  ASSERT_EQ(run(cli() + " convert '" + in + "' '" + js + "' --to json").exit_code, 0);
  Json j = Json::parse(read_file(js));
  Json port;
  for (const auto& sec : j["sections"])
    if (sec["name"] == "port92") port = sec;
  ASSERT_FALSE(port.is_null());
  for (int i = 1; i <= 6000; ++i) {
    port["instance_id"] = i;
    j["sections"].push_back(port);
  }
  const auto many = (t.path / "many.json").string();
  std::ofstream(many) << j.dump();
  const auto out = (t.path / "r.html").string();
  ASSERT_EQ(run(cli() + " report '" + many + "' -o '" + out + "'").exit_code, 0);
  const std::string html = read_file(out);
  EXPECT_EQ(count(html, "<tr><td class=\"n\" data-v="), 5000u);
  EXPECT_NE(html.find("more section records not listed"), std::string::npos);
  EXPECT_NE(html.find("5999 more devices"), std::string::npos);  // 6023 devices: the chart draws 24 + 1 rows
  EXPECT_LT(html.size(), 2u << 20);
}

TEST(ReportCli, TwoStreamsShowTheirDifferences) {
  TempDir t;
  const auto in = (corpus_dir() / "isapc-ne2k-paused.mig").string();
  const auto framed = (t.path / "s.swf").string();
  ASSERT_EQ(run(cli() + " convert '" + in + "' '" + framed + "' --to framed").exit_code, 0);
  const auto edited = (t.path / "e.swf").string();
  ASSERT_EQ(run(cli() + " set '" + framed + "' '" + edited + "' cpu.env.eip=0x2bb1").exit_code, 0);
  const auto out = (t.path / "r.html").string();
  auto r = run(cli() + " report '" + in + "' '" + edited + "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string html = read_file(out);
  expect_self_contained(html);
  EXPECT_NE(html.find("<b>1 difference</b>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td><code>cpu/0</code></td><td><code>env.eip</code></td>"
                      "<td class=\"mono\">0xfff0 (65520)</td><td class=\"mono\">0x2bb1 (11185)</td></tr>"),
            std::string::npos);
  EXPECT_NE(html.find("statewire framed stream"), std::string::npos);
  EXPECT_NE(html.find("Every page is the same."), std::string::npos);
  // The same two as diff sees them.
  auto d = run(cli() + " diff '" + in + "' '" + edited + "'");
  EXPECT_NE(d.out.find("1 difference\n"), std::string::npos) << d.out;
}

TEST(ReportCli, TruncatedStreamGetsAPartialPageAndExit1) {
  TempDir t;
  const auto bytes = read_file(corpus_dir() / "isapc-ne2k-paused.mig");
  const auto cut = (t.path / "cut.mig").string();
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3);
  const auto out = (t.path / "r.html").string();
  auto r = run(cli() + " report '" + cut + "' -o '" + out + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  const std::string html = read_file(out);
  EXPECT_NE(html.find("read stopped early"), std::string::npos);
  EXPECT_NE(html.find("class=\"bad\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"RAM map of pc.ram\""), std::string::npos);
}

TEST(ReportCli, InputThatIsNoStreamIsRefusedAndNothingWritten) {
  TempDir t;
  const auto junk = (t.path / "junk").string();
  std::ofstream(junk) << "hello";
  const auto out = (t.path / "r.html").string();
  auto r = run(cli() + " report '" + junk + "' -o '" + out + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("statewire: error:"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace statewire::testing
