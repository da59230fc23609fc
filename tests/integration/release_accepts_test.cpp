// A real QEMU 10.2.0 stream (tests/data/qemu-10.2, e1000e + am53c974 + pvscsi
// on pc-q35-7.2) is refused by Debian's QEMU 7.2 as it stands (10.2's ESP
// sends drq_state, which 7.2 does not read) and loads once `convert
// --to-schema` has applied the built-in repairs. Label `qemu`; skips without QEMU.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

namespace fs = std::filesystem;

TEST(ReleaseAccepts, Qemu102StreamLoadsInto72AfterConvert) {
  if (run("command -v qemu-system-x86_64 && command -v python3").exit_code != 0)
    GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  TempDir t;
  const fs::path corpus(STATEWIRE_CORPUS_DIR);
  const fs::path in = corpus / ".." / "qemu-10.2" / "q35-7.2-e1000e-esp-pvscsi-paused.mig";
  const fs::path out = t.path / "to72.mig";
  const std::string accepts = "'" + (fs::path(STATEWIRE_TOOLS_DIR) / "qemu-accepts").string() + "' ";
  auto before = run(accepts + "'" + in.string() + "'");
  ASSERT_NE(before.exit_code, 2) << before.out;
  EXPECT_EQ(before.exit_code, 1) << before.out;
  EXPECT_NE(before.out.find("pciespscsi"), std::string::npos) << before.out;

  fs::copy_file(in.string() + ".args", out.string() + ".args");
  auto conv = run(cli() + " convert '" + in.string() + "' '" + out.string() +
                  "' --to qemu --to-schema '" + (corpus / "vmstate-pc-i440fx-7.2.json").string() + "'");
  ASSERT_EQ(conv.exit_code, 0) << conv.out;
  auto after = run(accepts + "'" + out.string() + "'");
  EXPECT_EQ(after.exit_code, 0) << after.out;
  EXPECT_EQ(after.out.rfind("ACCEPTED", 0), 0u) << after.out;
}

}  // namespace
}  // namespace statewire::testing
