// `analyze --sort size`: where a stream's bytes go, in human units, with
// shares that add up, on real streams.
#include <gtest/gtest.h>

#include <regex>

#include "statewire/qemu_analyze.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

TEST(QemuAnalyzeSizes, HumanUnits) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1536), "1.5 KiB");
  EXPECT_EQ(human_size(64ull << 20), "64.0 MiB");
  EXPECT_EQ(human_size(3ull << 30), "3.0 GiB");
}

TEST(QemuAnalyzeSizes, RamDevicesAndRestAddUpAndDevicesAreLargestFirst) {
  for (const auto& f : testing::corpus_files(".mig")) {
    SCOPED_TRACE(f.filename().string());
    auto r = analyze_qemu_stream(testing::read_bytes(f));
    ASSERT_TRUE(r);
    const std::string text = report_sizes(r->report);
    // The three shares of the stream add up to 100% (within rounding).
    std::regex share(R"(  (RAM \(page records\)|device state \([0-9]+ devices\)|headers, footers, description trailer) +[0-9.]+ [KMG]?i?B +([0-9.]+)%)");
    double sum = 0;
    int lines = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), share); it != std::sregex_iterator(); ++it) {
      sum += std::stod((*it)[2]);
      ++lines;
    }
    EXPECT_EQ(lines, 3) << text;
    EXPECT_NEAR(sum, 100.0, 0.2) << text;
    // Device lines come largest first.
    std::regex dev(R"(\n  (\S+/[0-9]+) +([0-9.]+) (B|KiB|MiB) +([0-9.]+)%)");
    double prev = 101;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), dev); it != std::sregex_iterator(); ++it) {
      const double pct = std::stod((*it)[4]);
      EXPECT_LE(pct, prev) << (*it)[1];
      prev = pct;
    }
  }
  auto cli = testing::run(testing::cli() + " analyze '" +
                          (testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig").string() +
                          "' --sort size");
  EXPECT_EQ(cli.exit_code, 0);
  EXPECT_NE(cli.out.find("devices by size"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("MiB"), std::string::npos) << cli.out;
}

}  // namespace
}  // namespace statewire::qemu
