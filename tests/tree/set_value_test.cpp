// `set` beyond integers: buffers of any size from hex, strings, doubles,
// array elements and whole arrays, each range-checked against the field's
// width and all-or-nothing; then on a real stream through the CLI, where the
// edited stream converts back to the same bytes except for what was set.
#include <gtest/gtest.h>

#include "statewire/qemu_stream.hpp"
#include "statewire/state_path.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

TEST(SetValue, BuffersTakeHexOfExactlyTheirSize) {
  Value mac = Blob{std::vector<std::uint8_t>(6, 0)};
  ASSERT_TRUE(set_value(mac, "52:54:00:12:34:56"));
  EXPECT_TRUE(mac == Value(Blob{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}}));
  ASSERT_TRUE(set_value(mac, "0x0102"));  // up to 8 bytes, a number (big-endian)
  EXPECT_TRUE(mac == Value(Blob{{0, 0, 0, 0, 1, 2}}));
  Value big = Blob{std::vector<std::uint8_t>(16, 0)};
  ASSERT_TRUE(set_value(big, "00112233445566778899aabbccddeeff"));
  EXPECT_EQ(big.get_if<Blob>()->bytes[15], 0xff);
  ASSERT_TRUE(set_value(big, "0x" + std::string(32, 'f')));
  EXPECT_EQ(big.get_if<Blob>()->bytes[0], 0xff);
  // Too short, too long, not hex, a separator inside a byte: refused, unchanged.
  for (const char* bad : {"0x1122", "0x" "00112233445566778899aabbccddeeff00", "zz", "0 0", "1:2:3"}) {
    auto r = set_value(big, bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_value) << bad;
  }
  EXPECT_EQ(big.get_if<Blob>()->bytes[0], 0xff);
  auto r = set_value(big, "0x1122");
  EXPECT_NE(r.error().message.find("the field is 16 bytes, the value gives 2"), std::string::npos)
      << r.error().message;
}

TEST(SetValue, StringsAndDoubles) {
  Value s = std::string("old");
  ASSERT_TRUE(set_value(s, "new name"));
  EXPECT_TRUE(s == Value(std::string("new name")));
  ASSERT_TRUE(set_value(s, R"("a \"q\" \\ \x01")"));
  EXPECT_TRUE(s == Value(std::string("a \"q\" \\ \x01")));
  EXPECT_FALSE(set_value(s, R"("bad \q")"));
  Value d = 1.0;
  ASSERT_TRUE(set_value(d, "-2.5e3"));
  EXPECT_TRUE(d == Value(-2500.0));
  EXPECT_FALSE(set_value(d, "2.5x"));
}

TEST(SetValue, WholeArraysKeepTheirLengthAndCheckEveryElement) {
  Array a;
  a.items.assign(4, Value(std::uint8_t{0}));
  Value v = a;
  ASSERT_TRUE(set_value(v, "[1, 0x2, 3, 255]"));
  EXPECT_TRUE(v.get_if<Array>()->items[3] == Value(std::uint8_t{255}));
  // Bytes also as hex.
  ASSERT_TRUE(set_value(v, "de:ad:be:ef"));
  EXPECT_TRUE(v.get_if<Array>()->items[0] == Value(std::uint8_t{0xde}));
  // One element out of range: nothing changes, the element is named.
  auto r = set_value(v, "[1, 2, 256, 4]");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("element [2]"), std::string::npos) << r.error().message;
  EXPECT_TRUE(v.get_if<Array>()->items[0] == Value(std::uint8_t{0xde}));
  // The length is the description's.
  r = set_value(v, "[1, 2, 3]");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("the array has 4 elements, the value gives 3"), std::string::npos);
  EXPECT_FALSE(set_value(v, "7"));
  EXPECT_FALSE(set_value(v, "[1, 2, 3, 4"));
  // Nested arrays (2-D) and arrays of strings with commas inside quotes.
  Array row;
  row.items.assign(2, Value(std::int16_t{0}));
  Array grid;
  grid.items.assign(2, Value(row));
  Value g = grid;
  ASSERT_TRUE(set_value(g, "[[1, -2], [-3, 4]]"));
  EXPECT_TRUE(g.get_if<Array>()->items[1].get_if<Array>()->items[0] == Value(std::int16_t{-3}));
  Array names;
  names.items.assign(2, Value(std::string()));
  Value n = names;
  ASSERT_TRUE(set_value(n, R"(["a, b", c])"));
  EXPECT_TRUE(n.get_if<Array>()->items[0] == Value(std::string("a, b")));
  // Structs are set member by member.
  Value st = Struct{};
  EXPECT_EQ(set_value(st, "1").error().code, Errc::unsupported);
}

// On the real ISA PC stream: ne2000's 49152-byte buffer and MAC, the CPU's
// 16 general registers at once, one XMM register (two u64 members QEMU names
// "_q_ZMMReg[0]" and "_q_ZMMReg[1]"); every other byte unchanged.
TEST(SetValue, CommandEditsBuffersAndArraysOfARealStream) {
  testing::TempDir t;
  const auto in = (testing::corpus_dir() / "isapc-ne2k-paused.mig").string();
  const auto out = (t.path / "o.mig").string();
  std::string mem;
  for (int i = 0; i < 49152; ++i) mem += "a5";
  auto set = testing::run(testing::cli() + " set '" + in + "' '" + out + "' ne2000.phys=52:54:00:12:34:56 "
                          "ne2000.mem=" + mem + " 'cpu.env.regs=[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' "
                          "'cpu.env.xmm_regs[0][1]._q_ZMMReg[0]=0x1111111111111111' "
                          "'cpu.env.xmm_regs[0][1]._q_ZMMReg[1]=0x2222222222222222'");
  ASSERT_EQ(set.exit_code, 0) << set.out.substr(0, 2000);
  EXPECT_NE(set.out.find("ne2000/0 ne2000.phys: 00 00 00 00 00 00 -> 52 54 00 12 34 56"), std::string::npos)
      << set.out.substr(0, 2000);
  EXPECT_NE(set.out.find("cpu/0 env.regs: [0, "), std::string::npos) << set.out.substr(0, 2000);
  auto show = testing::run(testing::cli() + " show '" + out + "' ne2000.mem");
  EXPECT_NE(show.out.find("= a5 a5 a5"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("(49152 bytes)"), std::string::npos) << show.out;
  EXPECT_EQ(testing::run(testing::cli() + " show '" + out + "' 'cpu.env.regs[15]'").out,
            "cpu/0 env.regs[15] = 0x10 (16)\n");
  // Only those values differ.
  auto d = testing::run(testing::cli() + " diff '" + in + "' '" + out + "'");
  EXPECT_NE(d.out.find("ne2000/0 ne2000.mem:"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("cpu/0 env.xmm_regs[0][1]._q_ZMMReg[1]: 0 -> 0x2222222222222222"),
            std::string::npos) << d.out;
  EXPECT_NE(d.out.find("cpu/0 env.regs[15]: 0 -> 0x10 (16)"), std::string::npos) << d.out;
  for (const char* line : {"ne2000/0 ne2000.phys:", "cpu/0 env.xmm_regs[0][1]._q_ZMMReg[0]"})
    EXPECT_NE(d.out.find(line), std::string::npos) << line;
  // Nothing else: every difference line names one of the edited fields.
  std::size_t lines = 0;
  for (std::size_t p = 0; (p = d.out.find('\n', p)) != std::string::npos; ++p) ++lines;
  EXPECT_LE(lines, 1u + 16 + 2 + 1 + 1) << d.out;
  // A buffer of the wrong size: refused, naming the field, nothing written.
  const auto bad = (t.path / "bad.mig").string();
  auto r = testing::run(testing::cli() + " set '" + in + "' '" + bad + "' ne2000.mem=0x1122");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("ne2000/0: field ne2000.mem"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the field is 49152 bytes, the value gives 2"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(bad));
  r = testing::run(testing::cli() + " set '" + in + "' '" + bad + "' 'cpu.env.regs=[1,2]'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("the array has 16 elements, the value gives 2"), std::string::npos) << r.out;
}

// A string, a double, a whole array and a MAC buffer, set in a framed stream
// of the example VM; the VM's registry loads the result (all or nothing)
// and reports exactly those values as changed.
TEST(SetValue, EditedExampleVmLoadsThroughItsRegistry) {
  testing::TempDir t;
  const auto in = (t.path / "vm.swf").string();
  const auto out = (t.path / "edited.swf").string();
  ASSERT_EQ(testing::run(testing::cli() + " demo --save '" + in + "' --to framed").exit_code, 0);
  auto set = testing::run(testing::cli() + " set '" + in + "' '" + out +
                          "' 'timer.label=\"edited \\\"t\\\"\"' timer.drift_ppm=-3.5 "
                          "'timer.comparators=[1, 2, 3, 0xffffffffffffffff]' nic.mac=02:00:00:00:00:01");
  ASSERT_EQ(set.exit_code, 0) << set.out;
  auto load = testing::run(testing::cli() + " demo --load '" + out + "'");
  ASSERT_EQ(load.exit_code, 0) << load.out;
  for (const char* line : {"timer/0:label: \"hpet-like timer 0\" != \"edited \"t\"\"",
                           "timer/0:drift_ppm: -12.625 != -3.5", "timer/0:comparators[0]: 0xa != 0x1",
                           "timer/0:comparators[3]: 0x28 != 0xffffffffffffffff", "nic/0:mac"})
    EXPECT_NE(load.out.find(line), std::string::npos) << line << "\n" << load.out;
  EXPECT_NE(load.out.find("(7 differences)"), std::string::npos) << load.out;
}

}  // namespace
}  // namespace statewire
