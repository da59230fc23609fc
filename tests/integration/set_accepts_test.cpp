// `statewire set` writes streams a real QEMU loads, with the edited values
// in the loaded guest (`info registers`). Label `qemu`; skips without QEMU.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

namespace fs = std::filesystem;

TEST(SetAccepts, EditedRegistersLoadIntoQemu) {
  if (run("command -v qemu-system-x86_64 && command -v python3").exit_code != 0)
    GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  TempDir t;
  const fs::path in = fs::path(STATEWIRE_CORPUS_DIR) / "isapc-ne2k-paused.mig";
  const fs::path out = t.path / in.filename();
  fs::copy_file(in.string() + ".args", out.string() + ".args");
  auto set = run(cli() + " set '" + in.string() + "' '" + out.string() +
                 "' 'cpu[0].env.regs[0]=0x12345678' cpu.env.regs[3]=3054 serial.divider=0x30");
  ASSERT_EQ(set.exit_code, 0) << set.out;
  EXPECT_NE(set.out.find("cpu/0 env.regs[0]: 0 -> 0x12345678"), std::string::npos) << set.out;
  auto r = run("'" + (fs::path(STATEWIRE_TOOLS_DIR) / "qemu-accepts").string() + "' '" +
               out.string() + "' --hmp 'info registers'");
  ASSERT_NE(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("ACCEPTED", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("EAX=12345678"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("EBX=00000bee"), std::string::npos) << r.out;  // 3054 decimal
}

}  // namespace
}  // namespace statewire::testing
