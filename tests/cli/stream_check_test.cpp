// Streaming `convert --to qemu` (QEMU or framed input, no --to-schema or
// --rules) checks each section as QEMU would load it before writing it:
// against --schema, else a QEMU file's own description trailer. A section
// that fails stops the conversion naming section and field; the sections
// before it were written, it was not, and an output file is removed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

namespace fs = std::filesystem;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

bool contains(const std::vector<std::uint8_t>& b, std::string_view s) {
  return std::search(b.begin(), b.end(), s.begin(), s.end()) != b.end();
}

const fs::path kStream = corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig";

// QEMU 10.2 reads hpet's timer count as num_timers_save: the 7.2 stream as it
// stands is refused at hpet, which comes after the RAM and before fw_cfg.
TEST(StreamCheck, QemuInputIsRefusedAtTheFirstBadSectionBeforeWritingIt) {
  TempDir t;
  const fs::path dump = corpus_dir() / ".." / "qemu-10.2" / "vmstate-pc-i440fx-7.2.json";
  const fs::path out = t.path / "out.mig", err = t.path / "err.txt";
  auto r = run(cli() + " convert " + quoted(kStream) + " " + quoted(out) + " --to qemu --schema " +
               quoted(dump));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("error: hpet/0: field num_timers: not a field of 'hpet' here"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("the section was not written and the partial output is removed"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out)) << "a refused conversion leaves no output file";

  // On standard output nothing can be removed: what came before hpet was
  // written (as far as it was flushed), hpet was not.
  const fs::path piped = t.path / "piped.mig";
  r = run(cli() + " convert " + quoted(kStream) + " - --to qemu --schema " + quoted(dump) + " > " +
          quoted(piped) + " 2> " + quoted(err));
  EXPECT_EQ(r.exit_code, 1);
  const auto written = read_bytes(piped);
  // Section headers: the idstr's length byte, then the idstr.
  EXPECT_TRUE(contains(written, std::string("\x03ram", 4))) << written.size();
  EXPECT_FALSE(contains(written, "\x04hpet")) << "the bad section was written";
  EXPECT_LT(written.size(), read_bytes(kStream).size());

  // --force writes it anyway, saying what QEMU would refuse.
  r = run(cli() + " convert " + quoted(kStream) + " " + quoted(out) + " --to qemu --force --schema " +
          quoted(dump));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("warning: hpet/0: 2 problem(s) QEMU would refuse"), std::string::npos) << r.out;
  EXPECT_TRUE(read_bytes(out) == read_bytes(kStream));
}

TEST(StreamCheck, QemuFileIsCheckedAgainstItsOwnTrailerAndPasses) {
  TempDir t;
  for (const auto& s : corpus_files(".mig")) {
    SCOPED_TRACE(s.filename().string());
    const fs::path out = t.path / "out.mig";
    auto r = run(cli() + " convert " + quoted(s) + " " + quoted(out) + " --to qemu");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(read_bytes(out) == read_bytes(s));
  }
}

// A framed stream whose fw_cfg was edited to a width QEMU 7.2 does not read
// (cur_entry u16 -> u32): framed -> qemu refuses it against 7.2's dump.
TEST(StreamCheck, CraftedFramedStreamIsRefusedNamingTheField) {
  TempDir t;
  const fs::path json = t.path / "vm.json", framed = t.path / "vm.framed", out = t.path / "out.mig";
  ASSERT_EQ(run(cli() + " convert " + quoted(kStream) + " " + quoted(json) + " --to json").exit_code, 0);
  std::string text = read_file(json);
  const std::size_t name = text.find("\"n\": \"cur_entry\"");
  ASSERT_NE(name, std::string::npos);
  const std::size_t type = text.find("\"u16\"", name);
  ASSERT_LT(type, name + 40);
  text.replace(type, 5, "\"u32\"");
  {
    std::ofstream f(json, std::ios::binary | std::ios::trunc);
    f << text;
  }
  ASSERT_EQ(run(cli() + " convert " + quoted(json) + " " + quoted(framed) + " --to framed").exit_code, 0);
  const fs::path dump = corpus_dir() / "vmstate-pc-i440fx-7.2.json";
  auto r = run("cat " + quoted(framed) + " | " + cli() + " convert - " + quoted(out) +
               " --to qemu --schema " + quoted(dump));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("error: fw_cfg/0: field cur_entry: takes 4 bytes, the destination reads 2"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out));
  // Without a schema a framed input has nothing ahead to check against (its
  // trailer comes last): it converts as before.
  r = run(cli() + " convert " + quoted(framed) + " " + quoted(out) + " --to qemu");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace statewire::testing
