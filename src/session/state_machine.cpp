#include "session/state_machine.hpp"

namespace statewire {

std::string_view session_state_name(SessionState s) noexcept {
  switch (s) {
    case SessionState::setup: return "setup";
    case SessionState::negotiate: return "negotiate";
    case SessionState::iterate: return "iterate";
    case SessionState::stop_and_copy: return "stop-and-copy";
    case SessionState::complete: return "complete";
    case SessionState::failed: return "failed";
    case SessionState::cancelled: return "cancelled";
  }
  return "?";
}

namespace detail {

bool transition_allowed(SessionState from, SessionState to) noexcept {
  using S = SessionState;
  switch (from) {
    case S::complete:
    case S::failed:
    case S::cancelled:
      return false;
    default:
      break;
  }
  if (to == S::failed || to == S::cancelled) return true;
  switch (from) {
    case S::setup: return to == S::negotiate;
    // Without memory there is nothing to iterate over.
    case S::negotiate: return to == S::iterate || to == S::stop_and_copy;
    case S::iterate: return to == S::stop_and_copy;
    case S::stop_and_copy: return to == S::complete;
    default: return false;
  }
}

bool SessionMachine::to(SessionState next, std::string why) {
  if (!transition_allowed(state_, next)) return false;
  StateChange c{state_, next, std::move(why), seconds()};
  state_ = next;
  if (observer_) observer_(c);
  return true;
}

}  // namespace detail
}  // namespace statewire
