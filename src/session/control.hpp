// The control channel's messages: a one-byte sync mark, a type, a length and
// a payload, each type with its own size cap checked before anything is
// allocated. Data channels open with their own small hello. Layout in
// docs/live-migration.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/byte_source.hpp"
#include "statewire/channel.hpp"
#include "statewire/cursor.hpp"
#include "statewire/result.hpp"

namespace statewire::detail {

enum class Msg : std::uint8_t {
  hello = 1,         // source → destination: handshake.hpp Hello
  welcome = 2,       // destination → source: accepted, Welcome
  refuse = 3,        // either way: an Error (encode_error); the sender stops
  ready = 4,         // destination → source: every data channel accepted
  round = 5,         // source → destination: a pre-copy round ended (its number, stats)
  device_state = 6,  // source → destination: a framed stream of the device sections
  complete = 7,      // source → destination: per-section checksums; nothing follows but verify
  applied = 8,       // destination → source: committed; its device verification
  memory_check = 9,  // source → destination, at the stop: the memory digest per region
  verified = 10,     // retired: memory is verified before "prepared" now
  cancel = 11,       // source → destination: stop, apply nothing (reason)
  prepared = 12,     // destination → source: everything staged and validated (Verdict)
  commit = 13,       // source → destination: apply now; the source will not resume
};
std::string_view msg_name(Msg m) noexcept;

inline constexpr std::size_t kMsgHeaderBytes = 6;  // 'M', type, u32 length (big-endian)
inline constexpr std::size_t kSmallMsgMax = 1u << 20;

[[nodiscard]] Result<void> send_msg(Channel& ch, Msg type, ByteSpan payload);

struct MsgHeader {
  Msg type = Msg::refuse;
  std::uint32_t length = 0;
};
// Reads a header; refuses a bad sync byte, an unknown type, or a length over
// the cap for its type (`device_state_max` for device_state, kSmallMsgMax else).
[[nodiscard]] Result<MsgHeader> read_msg_header(Channel& ch, std::size_t device_state_max);
// Reads a whole message whose payload must be small.
struct Message {
  Msg type = Msg::refuse;
  Bytes payload;
};
[[nodiscard]] Result<Message> read_msg(Channel& ch);

// Reads at most `limit` bytes of a channel: a framed reader over a
// device_state payload cannot read into the next message.
class LimitedSource final : public ByteSource {
 public:
  LimitedSource(Channel& ch, std::uint64_t limit) : ch_(ch), left_(limit) {}
  [[nodiscard]] Result<std::size_t> read(std::span<std::uint8_t> dst) override;
  std::uint64_t left() const { return left_; }
  std::uint32_t crc() const { return crc_; }  // CRC32C of every byte read so far

 private:
  Channel& ch_;
  std::uint64_t left_;
  std::uint32_t crc_ = 0;
};

// A data channel's first bytes: magic, session id, index, channel count.
inline constexpr std::size_t kDataHelloBytes = 8 + 8 + 4 + 4;
Bytes encode_data_hello(std::uint64_t session_id, std::uint32_t index, std::uint32_t count);
struct DataHello {
  std::uint64_t session_id = 0;
  std::uint32_t index = 0, count = 0;
};
[[nodiscard]] Result<DataHello> decode_data_hello(ByteSpan bytes);

}  // namespace statewire::detail

namespace statewire::detail {

// Payloads of the messages after the handshake (all big-endian).
struct RoundReport {  // Msg::round
  std::uint64_t round = 0;
  bool final = false;
  std::uint64_t page_bytes = 0, wire_bytes = 0;
};
Bytes encode_round(const RoundReport& r);
[[nodiscard]] Result<RoundReport> decode_round(ByteSpan p);

struct SectionSum {
  std::string name;
  std::uint32_t instance_id = 0, version = 0;
  std::uint32_t crc = 0;  // CRC32C of the section's VMState body as the source saved it
};
struct CompleteReport {  // Msg::complete
  std::uint32_t device_state_crc = 0;  // CRC32C of the device_state payload
  std::vector<SectionSum> sections;
};
Bytes encode_complete(const CompleteReport& c);
[[nodiscard]] Result<CompleteReport> decode_complete(ByteSpan p);

// Msg::applied and Msg::verified: a verdict (0 no, 1 yes, 2 not checked) and a line of text.
struct Verdict {
  std::uint8_t ok = 2;
  std::string text;
};
Bytes encode_verdict(const Verdict& v);
[[nodiscard]] Result<Verdict> decode_verdict(ByteSpan p);

// Msg::memory_check: the memory digest of every region (RamSender::memory_digest), in region order.
Bytes encode_crcs(const std::vector<std::uint32_t>& crcs);
[[nodiscard]] Result<std::vector<std::uint32_t>> decode_crcs(ByteSpan p, std::size_t expected);

}  // namespace statewire::detail
