// The proxy's return direction: what the destination QEMU writes back on the
// migration connection (QEMU's return path: be16 type, be16 length, data)
// goes to the source unchanged, on its own thread; the messages are parsed
// on the way so the proxy knows the destination's verdict (SHUT 0: loaded).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "statewire/channel.hpp"

namespace statewire {

struct ReturnPathOutcome {
  std::optional<std::uint32_t> shut;  // the destination's SHUT value
  std::optional<std::chrono::steady_clock::time_point> shut_at;  // when it arrived
  std::string error;                  // why the destination side failed, if it did
};

class ReturnPath {
 public:
  // `forward_done`: the destination has been sent the stream up to its EOF;
  // `opened`: the source asked for a return path (MIG_CMD_OPEN_RETURN_PATH);
  // `stopping`: the forward direction failed and is closing both sides.
  ReturnPath(Channel& destination, Channel& source, std::atomic<std::uint64_t>& bytes,
             std::atomic<bool>& forward_done, std::atomic<bool>& opened, std::atomic<bool>& stopping,
             Timeout answer_timeout)
      : dst_(destination), src_(source), bytes_(bytes), done_(forward_done), opened_(opened),
        stopping_(stopping), answer_timeout_(answer_timeout) {}

  // Until the destination closes, the forward direction fails (the channels
  // are aborted), or the destination stays silent for the answer timeout
  // after the whole stream went out.
  void run();
  ReturnPathOutcome outcome() const { return out_; }

 private:
  void parse(const std::uint8_t* p, std::size_t n);

  Channel& dst_;
  Channel& src_;
  std::atomic<std::uint64_t>& bytes_;
  std::atomic<bool>& done_;
  std::atomic<bool>& opened_;
  std::atomic<bool>& stopping_;  // the forward direction failed and aborts both channels
  Timeout answer_timeout_;
  ReturnPathOutcome out_;
  std::uint8_t msg_[4 + 65535];
  std::size_t have_ = 0;
};

}  // namespace statewire
