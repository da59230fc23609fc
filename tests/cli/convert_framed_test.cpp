#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "statewire/cursor.hpp"

#include "test_util.hpp"

namespace statewire {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("statewire-cli-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

TEST(ConvertCli, QemuToFramedToJsonToQemuIsByteIdentical) {
  fs::path in = testing::corpus_dir() / "i440fx-2.12-rtl8139-paused.mig";
  fs::path framed = scratch("s.swf"), json = scratch("s.json"), back = scratch("s.mig");
  auto a = testing::run(testing::cli() + " convert " + in.string() + " " + framed.string() +
                        " --to framed --compress zstd");
  ASSERT_EQ(a.exit_code, 0) << a.out;
  auto b = testing::run(testing::cli() + " convert " + framed.string() + " " + json.string() + " --to json");
  ASSERT_EQ(b.exit_code, 0) << b.out;
  auto c = testing::run(testing::cli() + " convert " + json.string() + " " + back.string() + " --to qemu");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  EXPECT_TRUE(testing::read_bytes(back) == testing::read_bytes(in));
  EXPECT_LT(fs::file_size(framed), fs::file_size(in)) << "zstd should make the framed file smaller";
}

TEST(ConvertCli, AnalyzeOfAFramedFileShowsHeaderAndSchemaProvenance) {
  fs::path in = testing::corpus_dir() / "isapc-ne2k-paused.mig";
  fs::path framed = scratch("a.swf");
  ASSERT_EQ(testing::run(testing::cli() + " convert " + in.string() + " " + framed.string() + " --to framed").exit_code, 0);
  auto r = testing::run(testing::cli() + " analyze " + framed.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("statewire framed stream"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("machine type: isapc"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("serial/0"), std::string::npos) << r.out;
  // Sections the stream's trailer explained carry that schema's fingerprint.
  std::size_t line = r.out.find("serial/0");
  std::string serial_line = r.out.substr(line, r.out.find('\n', line) - line);
  EXPECT_EQ(serial_line.find("(unknown)"), std::string::npos) << serial_line;
  auto j = testing::run(testing::cli() + " analyze " + framed.string() + " --format json");
  ASSERT_EQ(j.exit_code, 0) << j.out;
  EXPECT_NE(j.out.find("\"schema_fingerprint\""), std::string::npos);
}

TEST(ConvertCli, CorruptFramedFileFailsNamingOffset) {
  fs::path in = testing::corpus_dir() / "microvm-virtio-paused.mig";
  fs::path framed = scratch("c.swf");
  ASSERT_EQ(testing::run(testing::cli() + " convert " + in.string() + " " + framed.string() + " --to framed").exit_code, 0);
  Bytes b = testing::read_bytes(framed);
  b[b.size() / 2] ^= 0x40;
  {
    std::ofstream out(framed, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  auto r = testing::run(testing::cli() + " convert " + framed.string() + " " + scratch("c.mig").string() + " --to qemu");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("CRC32C mismatch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("offset 0x"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire
