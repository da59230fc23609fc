// The tool's front door: --version, "did you mean" for mistyped commands,
// and --help that states defaults and exit codes.
#include <gtest/gtest.h>

#include <regex>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

TEST(MainCli, VersionPrintsTheProjectVersion) {
  auto r = run(cli() + " --version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("statewire [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << r.out;
}

TEST(MainCli, MistypedCommandGetsASuggestionAndExitTwo) {
  auto r = run(cli() + " analyse x.mig");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("did you mean \"analyze\"?"), std::string::npos) << r.out;
  auto c = run(cli() + " chek a b");
  EXPECT_NE(c.out.find("did you mean \"check\"?"), std::string::npos) << c.out;
  auto none = run(cli() + " xyzzyq");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.out.find("unknown command \"xyzzyq\""), std::string::npos) << none.out;
  EXPECT_EQ(none.out.find("did you mean"), std::string::npos) << none.out;
}

TEST(MainCli, HelpStatesDefaultsAndExitCodes) {
  auto top = run(cli() + " --help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("Exit codes: 0 success; 1 "), std::string::npos) << top.out;
  for (const char* cmd : {"diff", "show", "set"}) EXPECT_NE(top.out.find(cmd), std::string::npos);
  auto analyze = run(cli() + " analyze --help");
  EXPECT_NE(analyze.out.find("=trailer,dump,registered"), std::string::npos) << analyze.out;
  EXPECT_NE(analyze.out.find("=text"), std::string::npos) << analyze.out;
}

}  // namespace
}  // namespace statewire::testing
