// Class 6 of issue 18: `analyze --extract-ram` must not trust the sizes a
// stream declares: memory follows the records read.
#include <gtest/gtest.h>

#include "hostile/craft.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

TEST(HostileRamExtract, HugeDeclaredBlockCostsNoMemory) {
  const std::uint64_t declared = 8ull << 40;  // 8 TiB, in a 4 KB stream
  const Bytes b = testing::qemu_ram_stream(declared, [](testing::BeWriter& w) {
    w.u64(0x08);  // PAGE at 0
    w.counted("pc.ram");
    for (int i = 0; i < 4096; ++i) w.u8(static_cast<std::uint8_t>(i * 7));
    w.u64((declared - 4096) | 0x02 | 0x20);  // ZERO, fill 0x11, at the very end
    w.u8(0x11);
  });
  testing::TempDir dir;
  const auto in = dir.path / "huge.mig";
  { std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size())); }
  const auto out = dir.path / "ram";
  auto r = testing::run(testing::memory_cap_prefix(512) + testing::cli() + " analyze " + in.string() +
                        " --extract-ram " + out.string());
  if (r.out.find("cannot size") != std::string::npos)
    GTEST_SKIP() << "this file system cannot hold an 8 TiB sparse file: " << r.out;
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto file = out / "pc.ram";
  EXPECT_EQ(std::filesystem::file_size(file), declared);
  std::ifstream f(file, std::ios::binary);
  std::vector<char> page(4096);
  f.read(page.data(), 4096);
  for (int i = 0; i < 4096; ++i) ASSERT_EQ(static_cast<std::uint8_t>(page[i]), static_cast<std::uint8_t>(i * 7));
  f.seekg(static_cast<std::streamoff>(declared - 4096));
  f.read(page.data(), 4096);
  EXPECT_EQ(page[0], 0x11);
  EXPECT_EQ(page[4095], 0x11);
}

}  // namespace
}  // namespace statewire
