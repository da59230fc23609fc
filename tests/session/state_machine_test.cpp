#include "session/state_machine.hpp"

#include <gtest/gtest.h>

namespace statewire {
namespace {

using S = SessionState;
constexpr S kAll[] = {S::setup, S::negotiate, S::iterate, S::stop_and_copy,
                      S::complete, S::failed, S::cancelled};

TEST(SessionStateMachine, AllowsOnlyForwardStepsAndEndingsAndNeverLeavesATerminalState) {
  for (S from : kAll) {
    for (S to : kAll) {
      const bool terminal = from == S::complete || from == S::failed || from == S::cancelled;
      bool want = false;
      if (!terminal) {
        want = to == S::failed || to == S::cancelled ||
               (from == S::setup && to == S::negotiate) ||
               (from == S::negotiate && (to == S::iterate || to == S::stop_and_copy)) ||
               (from == S::iterate && to == S::stop_and_copy) ||
               (from == S::stop_and_copy && to == S::complete);
      }
      EXPECT_EQ(detail::transition_allowed(from, to), want)
          << session_state_name(from) << " -> " << session_state_name(to);
    }
  }
}

TEST(SessionStateMachine, TellsTheObserverEachTransitionWithItsReason) {
  std::vector<StateChange> seen;
  detail::SessionMachine m([&](const StateChange& c) { seen.push_back(c); });
  EXPECT_TRUE(m.to(S::negotiate, "connected"));
  EXPECT_FALSE(m.to(S::complete, "skipping ahead"));  // refused, not reported
  EXPECT_TRUE(m.to(S::failed, "peer went away"));
  EXPECT_FALSE(m.to(S::negotiate, "again"));
  EXPECT_TRUE(m.terminal());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].from, S::setup);
  EXPECT_EQ(seen[0].to, S::negotiate);
  EXPECT_EQ(seen[0].why, "connected");
  EXPECT_EQ(seen[1].to, S::failed);
  EXPECT_EQ(seen[1].why, "peer went away");
  EXPECT_LE(seen[0].seconds, seen[1].seconds);
  EXPECT_EQ(session_state_name(S::stop_and_copy), "stop-and-copy");
}

}  // namespace
}  // namespace statewire
