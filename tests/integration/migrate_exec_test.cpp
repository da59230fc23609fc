// QEMU migrates straight into statewire and back: `migrate "exec:statewire
// ... -"` hands the live stream to the command's standard input, and
// `-incoming "exec:statewire convert state.json - --to qemu"` loads what the
// command writes. The report equals the one for the same stream saved to a
// file; a stream converted on the fly to JSON and back is loaded by a second
// QEMU; a register edited in the JSON shows in the QEMU that loaded it.
// Runs tests/integration/migrate_exec.py and tools/qemu/qemu-accepts;
// skips when QEMU or python3 is missing.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kTools = STATEWIRE_TOOLS_DIR;
const fs::path kDriver = fs::path(STATEWIRE_TEST_DATA_DIR).parent_path() / "integration" / "migrate_exec.py";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

bool have_qemu() { return run("command -v qemu-system-x86_64 && command -v python3").exit_code == 0; }

// Migrates a paused QEMU started with `args_file` to `exec:<command>`; the
// command must create `done` when it has finished.
void migrate_to(const fs::path& args_file, const std::string& command, const fs::path& done) {
  // The driver's own arguments are single-quoted; the command has none.
  auto r = run("python3 " + q(kDriver) + " " + q(kTools) + " " + q(args_file) + " \"" + command + "\"");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // QEMU reports completion when it has written the last byte; the command
  // may still be working.
  for (int i = 0; i < 300 && !fs::exists(done); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(done)) << "the exec command did not finish";
}

TEST(MigrateExec, AnalyzeReadsALiveStreamFromQemu) {
  if (!have_qemu()) GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  for (const char* name : {"i440fx-2.12-rtl8139-paused.mig", "q35-5.2-ahci-hda-running2s.mig"}) {
    SCOPED_TRACE(name);
    TempDir t;
    const fs::path saved = t.path / "copy.mig", report = t.path / "report.txt",
                   rc = t.path / "rc";
    migrate_to(corpus_dir() / (std::string(name) + ".args"),
               "tee " + saved.string() + " | " + cli() + " analyze - > " + report.string() +
                   " 2>&1; echo \\$? > " + rc.string(),
               rc);
    EXPECT_EQ(read_file(rc), "0\n") << read_file(report);
    auto from_file = run(cli() + " analyze " + q(saved));
    ASSERT_EQ(from_file.exit_code, 0) << from_file.out;
    EXPECT_EQ(read_file(report), from_file.out);
    EXPECT_NE(from_file.out.find("configuration: machine"), std::string::npos) << from_file.out;
  }
}

TEST(MigrateExec, ConvertedOnTheFlyAndBackIsAcceptedByQemu) {
  if (!have_qemu()) GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  TempDir t;
  const auto args = corpus_dir() / "i440fx-2.12-rtl8139-paused.mig.args";
  const fs::path json = t.path / "state.json", back = t.path / "back.mig",
                 rc = t.path / "rc";
  migrate_to(args,
             cli() + " convert - " + json.string() + " --to json > " + t.path.string() +
                 "/log 2>&1; echo \\$? > " + rc.string(),
             rc);
  ASSERT_EQ(read_file(rc), "0\n") << read_file(t.path / "log");
  auto c = run(cli() + " convert " + q(json) + " " + q(back) + " --to qemu");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  fs::copy_file(args, back.string() + ".args");
  auto r = run(q(kTools / "qemu-accepts") + " " + q(back));
  ASSERT_NE(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("ACCEPTED", 0), 0u) << r.out;
}

TEST(MigrateExec, QemuLoadsStateStraightFromEditedJson) {
  if (!have_qemu()) GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  TempDir t;
  const auto stream = corpus_dir() / "isapc-ne2k-paused.mig";
  const fs::path json = t.path / "state.json";
  auto c = run(cli() + " convert " + q(stream) + " " + q(json) + " --to json");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  auto j = nlohmann::ordered_json::parse(read_file(json));
  bool edited = false;
  for (auto& sec : j["sections"])
    if (sec["name"] == "cpu")
      for (auto& f : sec["fields"])
        if (f["n"] == "env.regs") {
          f["items"][0]["v"] = 0x1234567890abcdefull;  // RAX
          edited = true;
        }
  ASSERT_TRUE(edited);
  std::ofstream(json) << j.dump();
  auto r = run("python3 " + q(kDriver) + " --incoming --hmp 'info registers' " + q(kTools) + " " +
               q(corpus_dir() / "isapc-ne2k-paused.mig.args") + " \"" + cli() + " convert " +
               json.string() + " - --to qemu\"");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // isapc runs a 32-bit CPU model: the monitor shows the low half of RAX.
  EXPECT_NE(r.out.find("EAX=90abcdef"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire::testing
