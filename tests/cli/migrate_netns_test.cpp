// `statewire migrate` between two network namespaces joined by a veth pair:
// a destination and a source that share no loopback, as two hosts would.
// Needs root and iproute2 (`ip netns`); skipped with the reason otherwise.
// Only addresses inside the two namespaces are used; both are removed even
// when the test fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace statewire {
namespace {

struct Namespaces {
  std::string a, b;
  bool ok = false;
  std::string why;
  Namespaces() {
    const std::string tag = std::to_string(getpid() % 100000);
    a = "swA" + tag;
    b = "swB" + tag;
    if (geteuid() != 0) {
      why = "not root: network namespaces need CAP_SYS_ADMIN";
      return;
    }
    if (testing::run("ip -V").exit_code != 0) {
      why = "iproute2's ip is not installed (scripts/install-deps.sh --with-tests)";
      return;
    }
    const std::string va = "swva" + tag, vb = "swvb" + tag;
    const std::string setup =
        "set -e; ip netns add " + a + "; ip netns add " + b + "; ip link add " + va +
        " type veth peer name " + vb + "; ip link set " + va + " netns " + a + "; ip link set " + vb +
        " netns " + b + "; ip -n " + a + " addr add 10.213.7.1/24 dev " + va + "; ip -n " + b +
        " addr add 10.213.7.2/24 dev " + vb + "; ip -n " + a + " link set " + va + " up; ip -n " + b +
        " link set " + vb + " up; ip -n " + a + " link set lo up; ip -n " + b + " link set lo up";
    auto r = testing::run(setup);
    if (r.exit_code != 0) {
      why = "cannot create namespaces here: " + r.out;
      return;
    }
    ok = true;
  }
  ~Namespaces() {
    // Deleting a namespace deletes its end of the veth pair, and so the pair.
    (void)testing::run("ip netns del " + a + " 2>/dev/null; ip netns del " + b + " 2>/dev/null");
  }
};

TEST(MigrateNetns, TheExampleVmMovesBetweenTwoNamespacesOverAVethPair) {
  Namespaces ns;
  if (!ns.ok) GTEST_SKIP() << "netns test skipped: " << ns.why;
  testing::TempDir dir;
  const std::string d = dir.path.string();
  const std::string addr = "tcp:10.213.7.2:47211";
  const std::string cmd =
      "timeout 60 ip netns exec " + ns.b + " " + testing::cli() + " migrate --listen " + addr +
      " --memory 32 --timeout-ms 10000 --format json > " + d + "/dest.json 2>" + d +
      "/dest.err & pid=$!; timeout 60 ip netns exec " + ns.a + " " + testing::cli() +
      " migrate --to " + addr + " --memory 32 --channels 2 --dirty-rate 10 --timeout-ms 10000 "
      "--format json > " + d + "/src.json 2>" + d + "/src.err; echo src=$?; wait $pid; echo dest=$?";
  auto r = testing::run(cmd);
  const std::string errs = testing::read_file(dir.path / "src.err") + testing::read_file(dir.path / "dest.err");
  EXPECT_NE(r.out.find("src=0"), std::string::npos) << r.out << errs;
  EXPECT_NE(r.out.find("dest=0"), std::string::npos) << r.out << errs;
  auto src = nlohmann::json::parse(testing::read_file(dir.path / "src.json"), nullptr, false);
  ASSERT_TRUE(src.is_object()) << errs;
  EXPECT_EQ(src["verified"], true);
  EXPECT_EQ(src["channels"], 2);
  // The source cannot reach the destination's address from outside its namespace.
  auto outside = testing::run(testing::cli() + " migrate --to " + addr +
                              " --memory 1 --timeout-ms 500 --format json");
  EXPECT_NE(outside.exit_code, 0);
}

}  // namespace
}  // namespace statewire
