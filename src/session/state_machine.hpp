// The transitions a session may make, with the observer told of each one.
#pragma once

#include <chrono>
#include <span>
#include <string>

#include "statewire/channel.hpp"

#include "statewire/session.hpp"

namespace statewire::detail {

class SessionMachine {
 public:
  explicit SessionMachine(StateObserver observer)
      : observer_(std::move(observer)), start_(std::chrono::steady_clock::now()) {}

  SessionState state() const { return state_; }
  bool terminal() const {
    return state_ == SessionState::complete || state_ == SessionState::failed ||
           state_ == SessionState::cancelled;
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  // Moves to `to` if the machine allows it (forward along setup → negotiate →
  // iterate → stop_and_copy → complete, or from any live state to failed or
  // cancelled); an illegal move is a bug in the session and is ignored, so a
  // terminal state is never left.
  bool to(SessionState to, std::string why);

 private:
  StateObserver observer_;
  SessionState state_ = SessionState::setup;
  std::chrono::steady_clock::time_point start_;
};

bool transition_allowed(SessionState from, SessionState to) noexcept;

// The end-of-run figures both ends report: final state, time, and every byte
// the control and data channels carried in either direction.
inline void finish_summary(SessionSummary& summary, const SessionMachine& machine,
                           const Channel& control, std::span<const Channel> data) {
  summary.state = machine.state();
  summary.seconds = machine.seconds();
  summary.wire_bytes = control.bytes_read() + control.bytes_written();
  for (const auto& d : data) summary.wire_bytes += d.bytes_read() + d.bytes_written();
}

}  // namespace statewire::detail
