// The connection killed at 20 points spread over a whole migration (the
// handshake, the memory rounds, the device state, the answer): the source
// stays healthy with its state unchanged and says why, the destination
// applies nothing, at every point.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <future>
#include <random>

#include "session/fault_proxy.hpp"
#include "statewire/session.hpp"
#include "test_util.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  SessionSummary source, destination;
  bool source_unchanged = false, destination_untouched = false, destination_equal = false;
  int paused = 0, resumed = 0;
};

// One migration of the sample VM and 2 MiB of memory through a proxy that
// kills every connection after `kill_after` bytes (0: never).
Outcome run_once(const testing::TempDir& dir, std::uint64_t kill_after, std::uint64_t* total,
                 std::uint64_t flip_at = 0, bool page_crc = false) {
  vm_model::Vm a = vm_model::make_sample_vm(), b;
  const vm_model::Vm a0 = a, b0 = b;
  auto ra = vm_model::vm_registry(a);
  auto rb = vm_model::vm_registry(b);
  EXPECT_TRUE(ra && rb);
  std::vector<std::uint8_t> sbytes(2u << 20), dbytes(2u << 20, 0);
  std::mt19937_64 g(11);
  for (std::size_t i = 0; i < sbytes.size(); i += 8) {
    const std::uint64_t v = g() | 1;
    std::memcpy(&sbytes[i], &v, 8);
  }
  const auto s0 = sbytes;
  RegionSet sr, dr;
  EXPECT_TRUE(sr.add(MemoryRegion{"ram", sbytes.data(), sbytes.size(), 4096}));
  EXPECT_TRUE(dr.add(MemoryRegion{"ram", dbytes.data(), dbytes.size(), 4096}));
  ProgramDirtyTracker tracker;

  Outcome o;
  static int n = 0;
  const std::string tag = std::to_string(n++);
  auto listener = Listener::open(*parse_endpoint("unix:" + (dir.path / ("d" + tag)).string()));
  EXPECT_TRUE(listener);
  if (!listener) return o;
  testing::FaultProxy proxy(*parse_endpoint("unix:" + (dir.path / ("p" + tag)).string()),
                            listener->local(), kill_after, flip_at);
  EXPECT_TRUE(proxy.ok());
  SessionMemory dm;
  dm.regions = &dr;
  DestinationOptions dopt;
  dopt.accept_timeout = 5s;
  dopt.timeout = 3s;
  auto dest = std::async(std::launch::async,
                         [&] { return migrate_destination(*rb, dm, *listener, dopt); });
  SessionMemory sm;
  sm.regions = &sr;
  sm.tracker = &tracker;
  sm.policy.max_rounds = 3;
  SourceOptions so;
  so.channels = 2;
  so.page_checksums = page_crc;
  so.timeout = 3s;
  so.connect_timeout = 2s;
  so.pause = [&] { ++o.paused; };
  so.resume = [&] { ++o.resumed; };
  o.source = migrate_source(*ra, sm, proxy.address(), so);
  o.destination = dest.get();
  if (total) *total = proxy.bytes();
  o.source_unchanged = a == a0 && sbytes == s0;
  o.destination_untouched =
      b == b0 && std::all_of(dbytes.begin(), dbytes.end(), [](auto c) { return c == 0; });
  o.destination_equal = a == b && sbytes == dbytes;
  return o;
}

TEST(SessionFaults, KilledAtTwentyPointsTheSourceRunsOnAndTheDestinationAppliesNothing) {
  testing::TempDir dir;
  std::uint64_t total = 0;
  const Outcome ref = run_once(dir, 0, &total);
  ASSERT_EQ(ref.source.state, SessionState::complete)
      << (ref.source.error ? ref.source.error->to_string() : "");
  ASSERT_TRUE(ref.destination_equal);
  ASSERT_GT(total, 2u << 20);

  // Five points in the handshake and data-channel hellos, ten over the pages,
  // five in the last few KiB: device state, checksums, the answer.
  std::vector<std::uint64_t> points = {1, 40, 150, 400, 700};
  for (int i = 1; i <= 10; ++i) points.push_back(1000 + (total - 6000) * i / 11);
  // From the end: the memory digest and device state, the "prepared" answer,
  // the commit, the "applied" answer (the commit window).
  for (std::uint64_t back : {2500, 1500, 250, 100, 30}) points.push_back(total - back);
  ASSERT_EQ(points.size(), 20u);

  int before_commit = 0;
  for (std::uint64_t at : points) {
    SCOPED_TRACE("killed after " + std::to_string(at) + " of " + std::to_string(total) + " bytes");
    const auto t0 = std::chrono::steady_clock::now();
    const Outcome o = run_once(dir, at, nullptr);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
    std::printf("killed after %llu bytes: source %s (%s); destination %s (%s)\n",
                static_cast<unsigned long long>(at), session_state_name(o.source.state).data(),
                o.source.error ? o.source.error->to_string().c_str() : "-",
                session_state_name(o.destination.state).data(),
                o.destination.error ? o.destination.error->to_string().c_str() : "-");
    if (o.source.state == SessionState::complete) {
      // Killed after the destination's "applied": the migration stands.
      EXPECT_EQ(o.destination.state, SessionState::complete);
      EXPECT_TRUE(o.destination_equal);
      EXPECT_EQ(o.resumed, 0);
      continue;
    }
    EXPECT_EQ(o.source.state, SessionState::failed);
    ASSERT_TRUE(o.source.error);
    EXPECT_FALSE(o.source.error->to_string().empty());
    const bool commit_sent =
        o.source.error->message.find("commit was sent") != std::string::npos;
    if (commit_sent) {
      // The one window no protocol closes: the answer to a commit was lost.
      // The source never resumes then; the destination applied all or nothing.
      EXPECT_EQ(o.resumed, 0);
      EXPECT_TRUE(o.destination_equal || o.destination_untouched);
      continue;
    }
    ++before_commit;
    EXPECT_TRUE(o.source_unchanged);
    EXPECT_EQ(o.resumed, o.paused);  // healthy: running again if it was stopped
    EXPECT_NE(o.destination.state, SessionState::complete);
    ASSERT_TRUE(o.destination.error);
    EXPECT_TRUE(o.destination_untouched) << o.destination.error->to_string();
  }
  EXPECT_GE(before_commit, 16);
}

// A byte flipped inside the first round's pages (byte one million of the
// stream), with and without page CRCs on the wire: either the page's CRC or
// the end-to-end digest refuses it before "prepared", the exact reason
// reaches the source, which resumes, and the destination applied nothing.
void expect_damage_refused(bool page_crc, const std::string& reason) {
  testing::TempDir dir;
  const Outcome o = run_once(dir, 0, nullptr, 1'000'000, page_crc);
  EXPECT_EQ(o.source.page_checksums, page_crc);
  EXPECT_EQ(o.source.state, SessionState::failed);
  ASSERT_TRUE(o.source.error);
  EXPECT_TRUE(o.source.refused_by_peer) << o.source.error->to_string();
  const std::string why = o.source.error->to_string();
  std::printf("page CRCs %s; the source reports: %s\n", page_crc ? "on" : "off", why.c_str());
  EXPECT_NE(why.find(reason), std::string::npos) << why;
  EXPECT_EQ(o.source.error->section, "ram") << why;
  // Refused before "prepared": the source never sent the commit, and the
  // destination never said its memory was verified.
  EXPECT_EQ(why.find("commit was sent"), std::string::npos) << why;
  EXPECT_FALSE(o.source.memory_verified.has_value());
  EXPECT_FALSE(o.destination.memory_verified.has_value());
  EXPECT_TRUE(o.source_unchanged);
  EXPECT_EQ(o.paused, 1);
  EXPECT_EQ(o.resumed, 1);
  EXPECT_EQ(o.destination.state, SessionState::failed);
  EXPECT_TRUE(o.destination_untouched);
}

TEST(SessionFaults, APageDamagedOnTheWayIsRefusedByItsCrcBeforePreparedWithPageCrcs) {
  expect_damage_refused(true, "failed its CRC and was not sent again");
}

TEST(SessionFaults, APageDamagedOnTheWayIsRefusedByTheDigestBeforePreparedWithoutPageCrcs) {
  expect_damage_refused(false, "differ from the source's memory");
}

}  // namespace
}  // namespace statewire
