// The analyze and convert subcommands, run as a user would.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

TEST(QemuCli, ConvertToJsonAndBackGivesTheSameBytes) {
  TempDir t;
  auto in = corpus_dir() / "microvm-virtio-paused.mig";
  auto js = t.path / "s.json", out = t.path / "s.mig";
  auto a = run(cli() + " convert '" + in.string() + "' '" + js.string() + "' --to json");
  ASSERT_EQ(a.exit_code, 0) << a.out;
  auto b = run(cli() + " convert '" + js.string() + "' '" + out.string() + "' --to qemu");
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_TRUE(read_bytes(out) == read_bytes(in));
}

TEST(QemuCli, AnalyzePrintsSectionsAndRamPages) {
  auto r = run(cli() + " analyze '" + (corpus_dir() / "microvm-virtio-paused.mig").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("machine microvm"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("full page 8"), std::string::npos) << r.out;  // meta.txt: normal=8
  EXPECT_NE(r.out.find("trailer"), std::string::npos);
}

TEST(QemuCli, AnalyzeOfABadStreamExitsNonZeroNamingOffsetSectionAndField) {
  TempDir t;
  auto bytes = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  bytes.resize(bytes.size() / 2);
  auto p = t.path / "cut.mig";
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                           static_cast<std::streamsize>(bytes.size()));
  auto r = run(cli() + " analyze '" + p.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("at offset 0x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ram/0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[truncated]"), std::string::npos) << r.out;
}

TEST(QemuCli, SchemaDumpExplainsSectionsOfAStreamWithoutTrailer) {
  auto in = corpus_dir() / "q35-7.2-novmdesc-running1s.mig";
  auto dump = corpus_dir() / "vmstate-pc-q35-5.2.json";
  auto bare = run(cli() + " analyze '" + in.string() + "'");
  auto with = run(cli() + " analyze '" + in.string() + "' --schema '" + dump.string() + "'");
  ASSERT_EQ(bare.exit_code, 0) << bare.out;
  ASSERT_EQ(with.exit_code, 0) << with.out;
  EXPECT_EQ(bare.out.find("schemas: dump"), std::string::npos) << bare.out;
  EXPECT_NE(with.out.find("schemas: dump 11"), std::string::npos) << with.out;
  // --schema-order can leave the dump out again.
  auto order = run(cli() + " analyze '" + in.string() + "' --schema '" + dump.string() +
                   "' --schema-order trailer,registered");
  EXPECT_EQ(order.out.find("schemas: dump"), std::string::npos) << order.out;
  auto bad = run(cli() + " analyze '" + in.string() + "' --schema-order nonsense");
  EXPECT_EQ(bad.exit_code, 1);
}

TEST(QemuCli, ExtractRamWritesEachBlockWithItsPages) {
  TempDir t;
  auto in = corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig";
  auto r = run(cli() + " analyze '" + in.string() + "' --extract-ram '" + t.path.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto ram = t.path / "sw-ram";
  ASSERT_TRUE(std::filesystem::exists(ram)) << r.out;
  EXPECT_EQ(std::filesystem::file_size(ram), 4u << 20);
  // The stream's first full page of the block is at the start of the file.
  auto bytes = read_bytes(in);
  auto name = std::string("\x06sw-ram");
  std::string s(bytes.begin(), bytes.end());
  std::size_t pos = s.find(std::string("\x08", 1) + name);  // flags byte PAGE, then the name
  ASSERT_NE(pos, std::string::npos);
  std::uint64_t addr = 0;
  for (int i = 0; i < 8; ++i) addr = addr << 8 | bytes[pos - 7 + i];
  addr &= ~std::uint64_t(0xfff);
  auto file = read_bytes(ram);
  ASSERT_GE(file.size(), addr + 4096);
  EXPECT_TRUE(std::equal(file.begin() + addr, file.begin() + addr + 4096,
                         bytes.begin() + pos + 1 + name.size()));
}

}  // namespace
}  // namespace statewire::testing
