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

// Whole arrays and buffers: the 16 general registers at once, an XMM
// register's two u64 halves, ne2000's MAC and its whole 48 KiB buffer. QEMU
// loads the result and shows the registers; the buffer sizes are what it reads.
TEST(SetAccepts, EditedArraysAndBuffersLoadIntoQemu) {
  if (run("command -v qemu-system-x86_64 && command -v python3").exit_code != 0)
    GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  TempDir t;
  const fs::path in = fs::path(STATEWIRE_CORPUS_DIR) / "isapc-ne2k-paused.mig";
  const fs::path out = t.path / in.filename();
  fs::copy_file(in.string() + ".args", out.string() + ".args");
  std::string mem;
  for (int i = 0; i < 49152; ++i) mem += "5a";
  auto set = run(cli() + " set '" + in.string() + "' '" + out.string() +
                 "' 'cpu.env.regs=[0x11111111,0x22222222,0x33333333,0x44444444,0x55555555,0x66666666,"
                 "0x77777777,0x88888888,9,10,11,12,13,14,15,16]' "
                 "'cpu.env.xmm_regs[0][1]._q_ZMMReg[0]=0x0123456789abcdef' "
                 "'cpu.env.xmm_regs[0][1]._q_ZMMReg[1]=0xfedcba9876543210' "
                 "ne2000.phys=52:54:00:12:34:56 ne2000.mem=" + mem);
  ASSERT_EQ(set.exit_code, 0) << set.out.substr(0, 2000);
  auto r = run("'" + (fs::path(STATEWIRE_TOOLS_DIR) / "qemu-accepts").string() + "' '" +
               out.string() + "' --hmp 'info registers'");
  ASSERT_NE(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("ACCEPTED", 0), 0u) << r.out;
  for (const char* reg : {"EAX=11111111", "EBX=44444444", "ECX=22222222", "EDX=33333333",
                          "ESI=77777777", "EDI=88888888", "EBP=66666666", "ESP=55555555"})
    EXPECT_NE(r.out.find(reg), std::string::npos) << reg << "\n" << r.out;
  EXPECT_NE(r.out.find("XMM01=fedcba9876543210 0123456789abcdef"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire::testing
