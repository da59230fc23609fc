// Streams that arrive on standard input or through a pipe, as from QEMU's
// `migrate "exec:statewire analyze -"`: the same results as from a file.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(StdinInput, AnalyzeOfEveryCorpusStreamFromAPipeEqualsTheFile) {
  for (const auto& s : corpus_files(".mig")) {
    auto from_file = run(cli() + " analyze " + quoted(s));
    auto from_pipe = run("cat " + quoted(s) + " | " + cli() + " analyze -");
    EXPECT_EQ(from_pipe.exit_code, from_file.exit_code) << s;
    EXPECT_EQ(from_pipe.out, from_file.out) << s;
  }
}

TEST(StdinInput, ConvertBetweenPipesKeepsTheBytes) {
  TempDir t;
  const auto in = corpus_dir() / "i440fx-2.12-rtl8139-paused.mig";
  const auto out = t.path / "back.mig";
  // qemu -> json on stdout -> framed on stdout -> qemu file, every hop a pipe.
  auto r = run("cat " + quoted(in) + " | " + cli() + " convert - - --to json | " + cli() +
               " convert - - --to framed | " + cli() + " convert - " + quoted(out) + " --to qemu");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(read_bytes(out) == read_bytes(in));
}

TEST(StdinInput, ProcessSubstitutionIsReadLikeAFile) {
  const auto in = corpus_dir() / "i440fx-2.12-rtl8139-paused.mig";
  auto r = run("bash -c \"" + cli() + " analyze <(cat " + quoted(in) + ")\"");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("machine pc-i440fx-2.12"), std::string::npos) << r.out;
}

TEST(StdinInput, EmptyAndCutInputNameWhereTheyEnd) {
  auto empty = run(cli() + " analyze - < /dev/null");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.out.find("offset 0x0"), std::string::npos) << empty.out;

  TempDir t;
  const auto in = corpus_dir() / "i440fx-2.12-rtl8139-paused.mig";
  const auto cut_file = t.path / "cut.mig";
  ASSERT_EQ(run("head -c 1000 " + quoted(in) + " > " + quoted(cut_file)).exit_code, 0);
  auto cut = run("cat " + quoted(cut_file) + " | " + cli() + " analyze -");
  auto same_from_file = run(cli() + " analyze " + quoted(cut_file));
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_NE(cut.out.find("truncated"), std::string::npos) << cut.out;
  EXPECT_EQ(cut.out, same_from_file.out);
}

TEST(StdinInput, SchemaAndCheckReadADumpFromStandardInput) {
  const auto dump = corpus_dir() / "vmstate-pc-i440fx-7.2.json";
  const auto other = corpus_dir() / "vmstate-pc-q35-5.2.json";
  auto file = run(cli() + " schema " + quoted(dump) + " --format json");
  auto piped = run("cat " + quoted(dump) + " | " + cli() + " schema - --format json");
  ASSERT_EQ(file.exit_code, 0) << file.out;
  EXPECT_EQ(piped.exit_code, 0);
  EXPECT_EQ(piped.out, file.out);

  auto check_files = run(cli() + " check " + quoted(dump) + " " + quoted(other));
  auto check_piped = run(cli() + " check - " + quoted(other) + " < " + quoted(dump));
  ASSERT_NE(check_files.exit_code, 2) << check_files.out;  // a comparison ran
  EXPECT_FALSE(check_files.out.empty());
  EXPECT_EQ(check_piped.exit_code, check_files.exit_code);
  EXPECT_EQ(check_piped.out, check_files.out);

  auto both = run(cli() + " check - - < " + quoted(dump));
  EXPECT_EQ(both.exit_code, 2) << both.out;
  auto bad = run("echo '{bad' | " + cli() + " schema -");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("standard input"), std::string::npos) << bad.out;
}

TEST(StdinInput, ADirectoryIsRefused) {
  auto r = run(cli() + " analyze - < /tmp");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("not a file"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire::testing
