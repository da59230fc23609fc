// `statewire proxy` between two real QEMU 7.2 processes over TCP loopback:
// identity (arrives running, RAM equal, bytes equal), a section renamed for
// a device at another PCI slot (refused directly, accepted through the
// proxy by --rename or a rules file, the register value visible at the
// destination), and failures (the destination refuses, the proxy refuses,
// the destination is killed, the source cancels) after which the source
// guest keeps running. Each scenario is one run of
// tests/integration/proxy_migrate.py, which bounds every wait and ends every
// process it started; skips when QEMU or python3 is missing.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kTools = STATEWIRE_TOOLS_DIR;
const fs::path kDriver =
    fs::path(STATEWIRE_TEST_DATA_DIR).parent_path() / "integration" / "proxy_migrate.py";

bool have_qemu() { return run("command -v qemu-system-x86_64 && command -v python3").exit_code == 0; }

class ProxyWithQemu : public ::testing::TestWithParam<const char*> {};

TEST_P(ProxyWithQemu, Scenario) {
  if (!have_qemu()) GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  TempDir t;
  auto r = run("timeout 300 python3 '" + kDriver.string() + "' '" + kTools.string() + "' '" + cli() +
               "' '" + t.path.string() + "' " + GetParam() + " 2>&1");
  ASSERT_NE(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("ok: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Qemu72, ProxyWithQemu,
                         ::testing::Values("identity-running", "identity-memory", "identity-bytes",
                                           "multifd-running", "multifd-memory", "renamed-slot",
                                           "renamed-slot-rules", "refused-by-dest",
                                           "refused-by-proxy", "dest-killed", "source-cancelled",
                                           "postcopy-refused", "exec-refused", "exec-return-path",
                                           "exec-refused-at-end", "exec-incoming"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace statewire::testing
