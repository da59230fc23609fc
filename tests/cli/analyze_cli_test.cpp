// `statewire analyze` exit codes and messages on damaged streams, and its
// --layout option, run as a user would.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

std::filesystem::path write(const TempDir& t, const std::string& name,
                            const std::vector<std::uint8_t>& bytes) {
  auto p = t.path / name;
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return p;
}

TEST(AnalyzeCli, DamagedTrailerWarnsAndExitsZero) {
  TempDir t;
  auto bytes = read_bytes(corpus_dir() / "isapc-ne2k-paused.mig");
  bytes.back() = ' ';  // the JSON no longer ends in '}'
  auto p = write(t, "s.mig", bytes);
  auto r = run(cli() + " analyze '" + p.string() + "' --schema '" +
               (corpus_dir() / "vmstate-pc-i440fx-7.2.json").string() +
               "' --schema-order registered,dump");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("warnings"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("description trailer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" dump "), std::string::npos) << r.out;
}

TEST(AnalyzeCli, EmptySectionNameExitsOneNamingTheRecord) {
  TempDir t;
  auto bytes = read_bytes(corpus_dir() / "isapc-ne2k-paused.mig");
  const std::string needle = "\x05timer";
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, bytes.end());
  *it = 0;
  auto p = write(t, "s.mig", bytes);
  for (std::string format : {"text", "json"}) {
    auto r = run(cli() + " analyze '" + p.string() + "' --format " + format);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("empty section name"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("idstr"), std::string::npos) << r.out;
  }
}

TEST(AnalyzeCli, TruncatedStreamGetsAPartialReportAndExitsOne) {
  TempDir t;
  auto bytes = read_bytes(corpus_dir() / "q35-5.2-ahci-hda-running2s.mig");
  bytes.resize(bytes.size() - bytes.size() / 20);  // cut among the device sections
  auto p = write(t, "s.mig", bytes);
  auto r = run(cli() + " analyze '" + p.string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("STOPPED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" cpu "), std::string::npos) << r.out;  // sections before the cut
  EXPECT_NE(r.out.find("[truncated]"), std::string::npos) << r.out;
  auto out = t.path / "state.json";
  auto j = run("(" + cli() + " analyze '" + p.string() + "' --format json > '" + out.string() + "')");
  EXPECT_EQ(j.exit_code, 1);
  EXPECT_NE(j.out.find("[truncated]"), std::string::npos) << j.out;
  auto doc = nlohmann::json::parse(read_file(out), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << read_file(out).substr(0, 300);
  EXPECT_GT(doc.size(), 5u);
}

TEST(AnalyzeCli, LayoutOptionIsCheckedAndDefaultsToLossless) {
  auto in = (corpus_dir() / "microvm-virtio-paused.mig").string();
  auto bad = run(cli() + " analyze '" + in + "' --format json --layout qemu-9");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  auto help = run(cli() + " analyze --help");
  EXPECT_NE(help.out.find("=lossless"), std::string::npos) << help.out;
  auto a = run(cli() + " analyze '" + in + "' --format json");
  auto b = run(cli() + " analyze '" + in + "' --format json --layout qemu-7.2");
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out, b.out);  // a 7.2 stream: the layouts agree
}

}  // namespace
}  // namespace statewire::testing
