// statewire/precopy.hpp — when to stop iterating and stop the program.
//
// Pre-copy sends memory while the program runs, round after round, each
// round sending what the previous one left dirty. It ends when what remains
// can be sent within the downtime target at the bandwidth measured so far
// (then the program stops and the rest goes in the final round), or when the
// round limit is reached (the program is dirtying faster than the link can
// carry; the final round is then longer than the target, and the decision
// says so). The policy is a plain value fed by the session: no I/O here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace statewire {

struct PrecopyPolicy {
  std::chrono::milliseconds downtime_target{300};
  unsigned max_rounds = 30;  // rounds before stop-and-copy, counting round 0
  // Fixed cost of the stop beyond memory (device state, the final handshake).
  std::chrono::milliseconds fixed_overhead{0};
};

struct PrecopyDecision {
  enum class Action : std::uint8_t { another_round, stop_and_copy };
  Action action = Action::another_round;
  double expected_downtime = 0;  // seconds, if we stopped now
  std::string reason;            // for logs and progress output
};

class PrecopyController {
 public:
  explicit PrecopyController(PrecopyPolicy policy = {}) : policy_(policy) {}

  // A round finished: `page_bytes` of memory moved in `seconds`.
  void record_round(std::uint64_t page_bytes, double seconds);
  // The estimate: the most recent round's rate, smoothed with the earlier
  // ones, in bytes per second; 0 before any round.
  double bandwidth() const { return bandwidth_; }
  unsigned rounds() const { return rounds_; }
  double expected_downtime(std::uint64_t remaining_bytes) const;

  // Whether to send another round given the bytes dirty now.
  PrecopyDecision decide(std::uint64_t remaining_bytes) const;

  const PrecopyPolicy& policy() const { return policy_; }

 private:
  PrecopyPolicy policy_;
  double bandwidth_ = 0;
  unsigned rounds_ = 0;
};

}  // namespace statewire
