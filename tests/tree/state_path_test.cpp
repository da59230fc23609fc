// Paths that do not depend on section ids, on a real decoded stream: devices
// by vmsd name or full idstr, instances, member names holding dots, unique
// nested names, and edits range-checked against the field's width.
#include "statewire/state_path.hpp"

#include <gtest/gtest.h>

#include "statewire/qemu_stream.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

StateStream isapc() {
  auto s = qemu::decode_qemu_stream(testing::read_bytes(testing::corpus_dir() / "isapc-ne2k-paused.mig"));
  EXPECT_TRUE(s) << s.error().to_string();
  return s ? std::move(*s) : StateStream{};
}

TEST(StatePath, FindsValuesWhateverTheSectionIds) {
  StateStream s = isapc();
  auto eip = find_value(s, "cpu.env.eip");
  ASSERT_TRUE(eip) << eip.error().to_string();
  EXPECT_EQ(eip->section, "cpu/0");
  EXPECT_EQ(eip->path, "env.eip");
  EXPECT_TRUE(*eip->value == Value(std::uint64_t{0xfff0}));
  auto r0 = find_value(s, "cpu[0].env.regs[0]");
  ASSERT_TRUE(r0) << r0.error().to_string();
  EXPECT_EQ(r0->path, "env.regs[0]");
  // "divider" lives in serial's nested struct "state".
  auto div = find_value(s, "serial.divider");
  ASSERT_TRUE(div) << div.error().to_string();
  EXPECT_EQ(div->path, "state.divider");
  EXPECT_EQ(div->value, find_value(s, "serial.state.divider")->value);
  // Two instances: which one must be said.
  auto dma = find_value(s, "dma.mask");
  ASSERT_FALSE(dma);
  EXPECT_NE(dma.error().message.find("instances 0, 1"), std::string::npos) << dma.error().message;
  auto dma1 = find_value(s, "dma[1].mask");
  ASSERT_TRUE(dma1) << dma1.error().to_string();
  EXPECT_EQ(dma1->section, "dma/1");
  // A section alone names its body.
  auto whole = find_value(s, "dma[1]");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->value, nullptr);
  ASSERT_NE(whole->body, nullptr);
  EXPECT_FALSE(whole->body->members.empty());
}

TEST(StatePath, BadPathsNameWhatIsMissing) {
  StateStream s = isapc();
  EXPECT_EQ(find_value(s, "nosuch.x").error().code, Errc::not_found);
  EXPECT_EQ(find_value(s, "cpu.env.nosuch").error().code, Errc::not_found);
  EXPECT_EQ(find_value(s, "cpu.env.regs[99]").error().code, Errc::not_found);
  EXPECT_EQ(find_value(s, "cpu[7].env.eip").error().code, Errc::not_found);
  EXPECT_EQ(find_value(s, "cpu.env.eip[0]").error().code, Errc::invalid_value);
}

TEST(StatePath, SetChecksTheFieldWidth) {
  Value u16 = std::uint16_t{1};
  EXPECT_TRUE(set_scalar(u16, "0xffff"));
  EXPECT_TRUE(u16 == Value(std::uint16_t{0xffff}));
  EXPECT_FALSE(set_scalar(u16, "0x10000"));
  EXPECT_FALSE(set_scalar(u16, "-1"));
  EXPECT_FALSE(set_scalar(u16, "12x"));
  Value i8 = std::int8_t{0};
  EXPECT_TRUE(set_scalar(i8, "-128"));
  EXPECT_TRUE(i8 == Value(std::int8_t{-128}));
  EXPECT_FALSE(set_scalar(i8, "128"));
  Value u64 = std::uint64_t{0};
  EXPECT_TRUE(set_scalar(u64, "18446744073709551615"));
  EXPECT_FALSE(set_scalar(u64, "18446744073709551616"));
  Value b = true;
  EXPECT_TRUE(set_scalar(b, "false"));
  EXPECT_TRUE(b == Value(false));
  EXPECT_FALSE(set_scalar(b, "2"));
  // A dump-explained field is bytes in wire order (big-endian).
  Value blob = Blob{{0, 0}};
  EXPECT_TRUE(set_scalar(blob, "0x1234"));
  EXPECT_TRUE(blob == Value(Blob{{0x12, 0x34}}));
  EXPECT_FALSE(set_scalar(blob, "0x10000"));
  Value str = std::string("x");
  EXPECT_EQ(set_scalar(str, "1").error().code, Errc::unsupported);
}

TEST(StatePath, ShowAndSetCommands) {
  testing::TempDir t;
  const auto in = (testing::corpus_dir() / "isapc-ne2k-paused.mig").string();
  auto list = testing::run(testing::cli() + " show '" + in + "'");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(list.out.find("dma[1]"), std::string::npos) << list.out;
  auto eip = testing::run(testing::cli() + " show '" + in + "' cpu.env.eip");
  EXPECT_EQ(eip.out, "cpu/0 env.eip = 0xfff0 (65520)\n");
  const auto out = (t.path / "o.json").string();
  auto set = testing::run(testing::cli() + " set '" + in + "' '" + out +
                          "' serial.divider=0x30 --to json");
  ASSERT_EQ(set.exit_code, 0) << set.out;
  EXPECT_NE(testing::run(testing::cli() + " show '" + out + "' serial.divider").out.find("0x30 (48)"),
            std::string::npos);
  auto bad = testing::run(testing::cli() + " set '" + in + "' '" + (t.path / "x.mig").string() +
                          "' serial.divider=70000");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("serial/0: field state.divider"), std::string::npos) << bad.out;
  EXPECT_FALSE(std::filesystem::exists(t.path / "x.mig"));
}

}  // namespace
}  // namespace statewire
