// Errors a user can act on (issue 18): a damaged magic says what was
// expected instead of "not valid JSON".
#include <gtest/gtest.h>

#include "statewire/codec.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

TEST(HostileErrors, DamagedMagicSaysWhichFormatsWereExpected) {
  Bytes b = testing::read_bytes(testing::corpus_dir() / "microvm-virtio-paused.mig");
  b[0] ^= 0x20;  // "qEVM"
  EXPECT_FALSE(detect_codec(b).has_value());
  testing::TempDir dir;
  const auto in = dir.path / "damaged.mig";
  { std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size())); }
  auto r = testing::run(testing::cli() + " convert " + in.string() + " " + dir.path.string() +
                        "/out.json --to json");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("not a QEMU stream, framed file or JSON"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("71 45 56 4d"), std::string::npos) << r.out;  // the bytes it found
  EXPECT_EQ(r.out.find("not valid JSON"), std::string::npos) << r.out;
}

TEST(HostileErrors, BrokenJsonTreeSaysLineAndColumn) {
  testing::TempDir dir;
  const auto in = dir.path / "broken.json";
  { std::ofstream(in) << "{\n  \"sections\": [\n    {\"name\": \"x\",}\n  ]\n}\n"; }
  auto r = testing::run(testing::cli() + " convert " + in.string() + " " + dir.path.string() +
                        "/out.mig --to qemu");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("line 3, column "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire
