// Streams compressed with zstd are read as what they hold: `analyze X.mig.zst`
// and `convert X.mig.zst ...` (and the same through a pipe) give what the
// uncompressed stream gives. The repository's own corpus is stored this way.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

namespace fs = std::filesystem;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// The packed form of a corpus stream, as the repository stores it.
fs::path packed(const fs::path& stream) {
  return data_dir() / corpus_dir().filename() / (stream.filename().string() + ".zst");
}

TEST(ZstdInput, AnalyzeOfEveryPackedCorpusStreamEqualsTheUnpackedOne) {
  for (const auto& s : corpus_files(".mig")) {
    SCOPED_TRACE(s.filename().string());
    ASSERT_TRUE(fs::exists(packed(s))) << "missing test data: " << packed(s);
    auto plain = run(cli() + " analyze " + quoted(s));
    auto zst = run(cli() + " analyze " + quoted(packed(s)));
    EXPECT_EQ(zst.exit_code, plain.exit_code);
    EXPECT_EQ(zst.out, plain.out);
  }
}

TEST(ZstdInput, ConvertFromAPackedPipeKeepsTheBytes) {
  TempDir t;
  const auto in = corpus_dir() / "i440fx-2.12-rtl8139-paused.mig";
  const auto out = t.path / "back.mig";
  auto r = run("cat " + quoted(packed(in)) + " | " + cli() + " convert - - --to framed | " + cli() +
               " convert - " + quoted(out) + " --to qemu");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(read_bytes(out) == read_bytes(in));
}

TEST(ZstdInput, CutAndDamagedFramesAreRefusedWithTheReason) {
  TempDir t;
  const auto src = packed(corpus_dir() / "microvm-virtio-paused.mig");
  auto bytes = read_bytes(src);
  ASSERT_GT(bytes.size(), 2000u);

  const auto cut = t.path / "cut.mig.zst";
  ASSERT_EQ(run("head -c 2000 " + quoted(src) + " > " + quoted(cut)).exit_code, 0);
  auto r = run(cli() + " analyze " + quoted(cut));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("ends inside a zstd frame"), std::string::npos) << r.out;

  // Flip bytes in the middle of the compressed data: zstd's checksum or its
  // block structure catches it.
  const auto bad = t.path / "bad.mig.zst";
  for (std::size_t i = 1000; i < 1016; ++i) bytes[i] ^= 0x5a;
  std::ofstream(bad, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  r = run(cli() + " analyze " + quoted(bad));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("zstd data damaged"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire::testing
