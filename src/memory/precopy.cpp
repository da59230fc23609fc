// The pre-copy round policy.
#include "statewire/precopy.hpp"

#include <fmt/format.h>

namespace statewire {

void PrecopyController::record_round(std::uint64_t page_bytes, double seconds) {
  ++rounds_;
  // Rounds of a few pages measure latency, not bandwidth: they only count
  // when nothing better is known.
  if (seconds <= 0) return;
  const double rate = static_cast<double>(page_bytes) / seconds;
  const bool meaningful = page_bytes >= (4u << 20) || seconds >= 0.05;
  if (bandwidth_ == 0)
    bandwidth_ = rate;
  else if (meaningful)
    bandwidth_ = 0.7 * rate + 0.3 * bandwidth_;  // recent rounds matter most
}

double PrecopyController::expected_downtime(std::uint64_t remaining_bytes) const {
  const double fixed = std::chrono::duration<double>(policy_.fixed_overhead).count();
  if (bandwidth_ <= 0) return remaining_bytes == 0 ? fixed : -1;
  return static_cast<double>(remaining_bytes) / bandwidth_ + fixed;
}

PrecopyDecision PrecopyController::decide(std::uint64_t remaining_bytes) const {
  PrecopyDecision d;
  const double target = std::chrono::duration<double>(policy_.downtime_target).count();
  d.expected_downtime = expected_downtime(remaining_bytes);
  if (d.expected_downtime >= 0 && d.expected_downtime <= target) {
    d.action = PrecopyDecision::Action::stop_and_copy;
    d.reason = fmt::format("{} bytes remain, {:.1f} ms at {:.0f} MB/s is within the {} ms target",
                           remaining_bytes, d.expected_downtime * 1e3, bandwidth_ / 1e6,
                           policy_.downtime_target.count());
    return d;
  }
  if (rounds_ >= policy_.max_rounds) {
    d.action = PrecopyDecision::Action::stop_and_copy;
    d.reason = fmt::format("round limit {} reached: {} bytes remain, expected downtime {:.1f} ms "
                           "exceeds the {} ms target",
                           policy_.max_rounds, remaining_bytes, d.expected_downtime * 1e3,
                           policy_.downtime_target.count());
    return d;
  }
  d.action = PrecopyDecision::Action::another_round;
  d.reason = bandwidth_ <= 0
                 ? std::string("no bandwidth measured yet")
                 : fmt::format("{} bytes remain, {:.1f} ms at {:.0f} MB/s is over the {} ms target",
                               remaining_bytes, d.expected_downtime * 1e3, bandwidth_ / 1e6,
                               policy_.downtime_target.count());
  return d;
}

}  // namespace statewire
