// `statewire migrate` as two processes: destination and source, over a unix
// socket and TCP loopback, same and different releases of the model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace statewire {
namespace {

struct MigrateRun {
  int source_exit = -1, destination_exit = -1;
  nlohmann::json source, destination;
  std::string out;
};

// Starts the destination in the background, runs the source, waits for both
// (each bounded by `timeout`), and reads their JSON summaries.
MigrateRun migrate(const testing::TempDir& dir, const std::string& addr, const std::string& dest_args,
            const std::string& src_args, const std::string& format = "json") {
  const std::string d = dir.path.string();
  const std::string cmd =
      "timeout 60 " + testing::cli() + " migrate --listen " + addr + " --timeout-ms 10000 " +
      dest_args + " --format " + format + " > " + d + "/dest.out 2> " + d + "/dest.err & pid=$!; " +
      "timeout 60 " + testing::cli() + " migrate --to " + addr + " --timeout-ms 10000 " +
      src_args + " --format " + format + " > " + d + "/src.out 2> " + d + "/src.err; " +
      "echo src=$?; wait $pid; echo dest=$?";
  MigrateRun r;
  auto res = testing::run(cmd);
  r.out = res.out;
  std::sscanf(res.out.c_str() + std::min(res.out.find("src="), res.out.size()), "src=%d",
              &r.source_exit);
  std::sscanf(res.out.c_str() + std::min(res.out.find("dest="), res.out.size()), "dest=%d",
              &r.destination_exit);
  if (format == "json") {
    r.source = nlohmann::json::parse(testing::read_file(dir.path / "src.out"), nullptr, false);
    r.destination = nlohmann::json::parse(testing::read_file(dir.path / "dest.out"), nullptr, false);
  }
  r.out += testing::read_file(dir.path / "src.err") + testing::read_file(dir.path / "dest.err");
  return r;
}

TEST(MigrateCli, TheExampleVmMovesOverAUnixSocketWhileItsGuestWritesAndIsVerified) {
  testing::TempDir dir;
  const std::string addr = "unix:" + (dir.path / "m.sock").string();
  MigrateRun r = migrate(dir, addr, "--memory 32", "--memory 32 --dirty-rate 20 --channels 2 --downtime-ms 50");
  ASSERT_EQ(r.source_exit, 0) << r.out;
  ASSERT_EQ(r.destination_exit, 0) << r.out;
  ASSERT_TRUE(r.source.is_object()) << r.out;
  EXPECT_EQ(r.source["state"], "complete");
  EXPECT_EQ(r.source["verified"], true);
  EXPECT_EQ(r.source["channels"], 2);
  EXPECT_GE(r.source["rounds"].get<int>(), 2);
  EXPECT_GT(r.source["downtime_ms"].get<double>(), 0.0);
  EXPECT_GE(r.source["memory_bytes"].get<std::uint64_t>(), 32u << 20);
  EXPECT_GT(r.source["bytes"].get<std::uint64_t>(), 32u << 20);
  EXPECT_GT(r.source["seconds"].get<double>(), 0.0);
  EXPECT_EQ(r.destination["verified"], true);
}

TEST(MigrateCli, TcpLoopbackWithCompressionAndATextSummary) {
  testing::TempDir dir;
  const std::string addr = "tcp:127.0.0.1:" + std::to_string(20000 + getpid() % 20000);
  MigrateRun r = migrate(dir, addr, "--memory 16", "--memory 16 --compress zstd", "text");
  ASSERT_EQ(r.source_exit, 0) << r.out;
  ASSERT_EQ(r.destination_exit, 0) << r.out;
  const std::string src = testing::read_file(dir.path / "src.out");
  EXPECT_NE(src.find("verified: memory and device state equal the source's"), std::string::npos)
      << src;
  EXPECT_NE(src.find("compression zstd"), std::string::npos) << src;
  EXPECT_NE(r.out.find("stop-and-copy -> complete"), std::string::npos) << r.out;
}

TEST(MigrateCli, AnOlderReleaseMigratesToANewerOneThroughThePlanner) {
  testing::TempDir dir;
  const std::string addr = "unix:" + (dir.path / "v.sock").string();
  MigrateRun r = migrate(dir, addr, "--version 4 --machine demo-2.0 --memory 4",
                  "--version 2 --machine demo-2.0 --memory 4");
  ASSERT_EQ(r.source_exit, 0) << r.out;
  EXPECT_EQ(r.source["verified"], true);
  EXPECT_NE(r.source["answer"].get<std::string>().find("transform"), std::string::npos)
      << r.source.dump();
}

TEST(MigrateCli, ANewerReleaseIsRefusedByAnOlderOneAndTheSourceSaysWhy) {
  testing::TempDir dir;
  const std::string addr = "unix:" + (dir.path / "w.sock").string();
  MigrateRun r = migrate(dir, addr, "--version 2 --memory 4", "--version 4 --memory 4");
  EXPECT_EQ(r.source_exit, 1) << r.out;
  EXPECT_EQ(r.destination_exit, 1) << r.out;
  ASSERT_TRUE(r.source.is_object()) << r.out;
  EXPECT_EQ(r.source["state"], "failed");
  EXPECT_EQ(r.source["error_from_peer"], true);
  EXPECT_NE(r.source["error"].get<std::string>().find("demo-4.0"), std::string::npos)
      << r.source.dump();
  EXPECT_EQ(r.source["memory_bytes"], 0);
}


TEST(MigrateCli, TheDestinationRunsTheMachineTypeTheSourcesHelloNames) {
  testing::TempDir dir;
  const std::string addr = "unix:" + (dir.path / "h.sock").string();
  // No --machine on the destination: release 4 runs demo-2.0 because the
  // release-2 source says so, and takes its devices through the planner.
  MigrateRun r = migrate(dir, addr, "--version 4 --memory 4", "--version 2 --memory 4");
  ASSERT_EQ(r.source_exit, 0) << r.out;
  ASSERT_EQ(r.destination_exit, 0) << r.out;
  EXPECT_EQ(r.source["verified"], true);
  EXPECT_EQ(r.destination["machine_type"], "demo-2.0") << r.destination.dump();
  EXPECT_NE(r.source["answer"].get<std::string>().find("transform"), std::string::npos)
      << r.source.dump();
}

TEST(MigrateCli, AnExplicitMachineOnTheDestinationIsARequirementTheSourceHearsAbout) {
  testing::TempDir dir;
  const std::string addr = "unix:" + (dir.path / "r.sock").string();
  MigrateRun r = migrate(dir, addr, "--version 4 --machine demo-4.0 --memory 4", "--version 2 --memory 4");
  EXPECT_EQ(r.source_exit, 1) << r.out;
  EXPECT_EQ(r.destination_exit, 1) << r.out;
  ASSERT_TRUE(r.source.is_object()) << r.out;
  EXPECT_EQ(r.source["error_from_peer"], true);
  const std::string why = r.source["error"].get<std::string>();
  EXPECT_NE(why.find("demo-2.0"), std::string::npos) << why;
  EXPECT_NE(why.find("demo-4.0"), std::string::npos) << why;
  EXPECT_EQ(r.source["memory_bytes"], 0);
}

TEST(MigrateCli, PageCrcsAreOffOnSocketsUnlessAskedFor) {
  testing::TempDir dir;
  const std::string addr = "unix:" + (dir.path / "c.sock").string();
  MigrateRun off = migrate(dir, addr, "--memory 8", "--memory 8");
  ASSERT_EQ(off.source_exit, 0) << off.out;
  EXPECT_EQ(off.source["page_crc"], false);
  EXPECT_EQ(off.destination["page_crc"], false);
  EXPECT_EQ(off.source["verified"], true);
  MigrateRun on = migrate(dir, addr, "--memory 8", "--memory 8 --page-crc");
  ASSERT_EQ(on.source_exit, 0) << on.out;
  EXPECT_EQ(on.source["page_crc"], true);
  EXPECT_EQ(on.destination["page_crc"], true);
  EXPECT_EQ(on.source["verified"], true);
}

}  // namespace
}  // namespace statewire

namespace statewire {
namespace {

TEST(MigrateCli, DemoMigratesIntoAChildDestinationWithOneCommand) {
  const auto r = testing::run("timeout 60 " + testing::cli() + " migrate --demo --memory 16 --timeout-ms 10000");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("destination started as process"), std::string::npos) << r.out;
  // The source's verdict and the child destination's.
  EXPECT_NE(r.out.find("verified: memory and device state equal the source's"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("destination verified: memory and device state equal the source's"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("complete on machine type vm-model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stop-and-copy -> complete"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire
