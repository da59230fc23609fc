// `statewire plan`: exit codes as check, text and JSON, the example model.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace statewire {
namespace {

TEST(PlanCli, ExampleModelForwardIsAcceptedWithItsChain) {
  auto r = testing::run(testing::cli() + " plan --example 1 --machine demo-1.0 --to-version 4");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("timer/0: version 1 -> 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("split filter into nic-filter v1"), std::string::npos) << r.out;
}

TEST(PlanCli, ExampleModelRefusalExitsOneAndNamesTheSubsection) {
  auto r = testing::run(testing::cli() + " plan --example 3 --machine demo --to-version 2 --format json");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_FALSE(j["ok"].get<bool>());
  ASSERT_EQ(j["refusals"].size(), 1u);
  EXPECT_EQ(j["refusals"][0]["section"], "nic/0");
  EXPECT_EQ(j["refusals"][0]["path"], "[nic/offload]");
  EXPECT_EQ(j["refusals"][0]["code"], "unknown_subsection");
}

TEST(PlanCli, UnknownMachineTypeIsARefusal) {
  auto r = testing::run(testing::cli() + " plan --example 4 --machine demo-4.0 --to-version 3");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("machine type demo-4.0 is unknown to version 3"), std::string::npos) << r.out;
}

TEST(PlanCli, CorpusStreamAgainstItsOwnReleaseNeedsNothing) {
  std::string in = (testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig").string();
  std::string dump = (testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string();
  auto r = testing::run(testing::cli() + " plan " + in + " --to-schema " + dump);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("0 transformed, 0 refusal(s)"), std::string::npos) << r.out;
}

TEST(PlanCli, BadArgumentsAndUnreadableInputExitTwo) {
  EXPECT_EQ(testing::run(testing::cli() + " plan").exit_code, 2);
  std::string in = (testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig").string();
  testing::TempDir dir;
  std::string bad = (dir.path / "bad.json").string();
  { std::ofstream(bad) << "{not json"; }
  EXPECT_EQ(testing::run(testing::cli() + " plan " + in + " --to-schema " + bad).exit_code, 2);
  EXPECT_EQ(testing::run(testing::cli() + " plan " + in + " --to-schema " + in + " --rules " + bad).exit_code, 2);
}

}  // namespace
}  // namespace statewire
