// The pre-copy policy against a synthetic program that dirties memory at a
// fixed rate while a link of fixed bandwidth carries it.
#include <gtest/gtest.h>

#include "statewire/precopy.hpp"

namespace statewire {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  unsigned rounds = 0;  // rounds before stop-and-copy, round 0 included
  double downtime = 0;  // what the final round takes
  PrecopyDecision last;
};

// Round 0 sends `memory` bytes; each round takes bytes/bandwidth seconds,
// during which the program dirties `dirty_rate` bytes/s (at most all memory).
Outcome simulate(PrecopyPolicy policy, double memory, double bandwidth, double dirty_rate) {
  PrecopyController c(policy);
  double to_send = memory;
  Outcome o;
  while (true) {
    const double secs = to_send / bandwidth;
    c.record_round(static_cast<std::uint64_t>(to_send), secs);
    ++o.rounds;
    to_send = std::min(memory, dirty_rate * secs);
    o.last = c.decide(static_cast<std::uint64_t>(to_send));
    if (o.last.action == PrecopyDecision::Action::stop_and_copy) break;
    if (o.rounds > 1000) break;  // the policy must never get here
  }
  o.downtime = to_send / bandwidth;
  return o;
}

TEST(Precopy, ConvergesWhenTheLinkOutrunsTheProgram) {
  // 1 GiB at 1 GB/s, the program dirties 50 MB/s, 100 ms target:
  // 1.07 s, then 54 MB (54 ms) fits.
  auto o = simulate({.downtime_target = 100ms, .max_rounds = 30}, 1 << 30, 1e9, 50e6);
  EXPECT_EQ(o.rounds, 1u);
  EXPECT_LE(o.downtime, 0.1);
  EXPECT_NEAR(o.last.expected_downtime, o.downtime, 1e-6);
  EXPECT_NE(o.last.reason.find("within the 100 ms target"), std::string::npos) << o.last.reason;
  // A faster dirtier needs more rounds and still gets under the target.
  auto busy = simulate({.downtime_target = 100ms, .max_rounds = 30}, 1 << 30, 1e9, 400e6);
  EXPECT_GT(busy.rounds, 1u);
  EXPECT_LE(busy.downtime, 0.1);
}

TEST(Precopy, StopsAtTheRoundLimitAndSaysTheDowntimeWillBeLonger) {
  // The program dirties faster than the link: the dirty set never shrinks.
  auto o = simulate({.downtime_target = 100ms, .max_rounds = 5}, 256 << 20, 100e6, 200e6);
  EXPECT_EQ(o.rounds, 5u);
  EXPECT_GT(o.last.expected_downtime, 0.1);
  EXPECT_NEAR(o.last.expected_downtime, o.downtime, 1e-3);
  EXPECT_NE(o.last.reason.find("round limit 5 reached"), std::string::npos) << o.last.reason;
}

TEST(Precopy, ExpectedDowntimeUsesTheMeasuredBandwidthAndFixedCost) {
  PrecopyController c({.downtime_target = 50ms, .max_rounds = 10, .fixed_overhead = 10ms});
  EXPECT_EQ(c.bandwidth(), 0);
  auto first = c.decide(1 << 20);
  EXPECT_EQ(first.action, PrecopyDecision::Action::another_round);
  EXPECT_NE(first.reason.find("no bandwidth measured"), std::string::npos);
  c.record_round(100'000'000, 1.0);  // 100 MB/s
  EXPECT_DOUBLE_EQ(c.bandwidth(), 100e6);
  EXPECT_NEAR(c.expected_downtime(2'000'000), 0.03, 1e-9);  // 20 ms + 10 ms
  EXPECT_EQ(c.decide(2'000'000).action, PrecopyDecision::Action::stop_and_copy);
  EXPECT_EQ(c.decide(5'000'000).action, PrecopyDecision::Action::another_round);  // 60 ms
  // A slower round pulls the estimate down; a tiny round does not move it.
  c.record_round(50'000'000, 1.0);
  EXPECT_NEAR(c.bandwidth(), 0.7 * 50e6 + 0.3 * 100e6, 1);
  const double before = c.bandwidth();
  c.record_round(4096, 0.001);
  EXPECT_DOUBLE_EQ(c.bandwidth(), before);
  EXPECT_EQ(c.rounds(), 3u);
}

}  // namespace
}  // namespace statewire
