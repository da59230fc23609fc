#include "session/control.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/crc32c.hpp"

namespace statewire::detail {

namespace {
constexpr std::uint8_t kSync = 'M';
constexpr std::uint8_t kDataMagic[8] = {'S', 'W', 'D', 'A', 'T', 'A', '\r', '\n'};
}  // namespace

std::string_view msg_name(Msg m) noexcept {
  switch (m) {
    case Msg::hello: return "hello";
    case Msg::welcome: return "welcome";
    case Msg::refuse: return "refuse";
    case Msg::ready: return "ready";
    case Msg::round: return "round";
    case Msg::device_state: return "device-state";
    case Msg::complete: return "complete";
    case Msg::applied: return "applied";
    case Msg::memory_check: return "memory-check";
    case Msg::verified: return "verified";
    case Msg::cancel: return "cancel";
    case Msg::prepared: return "prepared";
    case Msg::commit: return "commit";
  }
  return "?";
}

Result<void> send_msg(Channel& ch, Msg type, ByteSpan payload) {
  std::uint8_t head[kMsgHeaderBytes];
  head[0] = kSync;
  head[1] = static_cast<std::uint8_t>(type);
  const auto n = static_cast<std::uint32_t>(payload.size());
  head[2] = static_cast<std::uint8_t>(n >> 24);
  head[3] = static_cast<std::uint8_t>(n >> 16);
  head[4] = static_cast<std::uint8_t>(n >> 8);
  head[5] = static_cast<std::uint8_t>(n);
  // One write for small messages: a peer never sees a header without its payload
  // because of us, and the message costs one system call.
  if (payload.size() <= 64 * 1024) {
    Bytes all(head, head + kMsgHeaderBytes);
    all.insert(all.end(), payload.begin(), payload.end());
    return ch.write(all);
  }
  SW_CHECK(ch.write(ByteSpan(head, kMsgHeaderBytes)));
  return ch.write(payload);
}

Result<MsgHeader> read_msg_header(Channel& ch, std::size_t device_state_max) {
  const std::uint64_t at = ch.bytes_read();
  std::uint8_t head[kMsgHeaderBytes];
  SW_CHECK(ch.read_exact(std::span<std::uint8_t>(head, kMsgHeaderBytes)));
  if (head[0] != kSync)
    return fail(make_error(Errc::bad_magic,
                           fmt::format("control message starts with 0x{:02x}, not 'M': the peer is "
                                       "out of step or not a statewire session",
                                       head[0]))
                    .at(at));
  if (head[1] < static_cast<std::uint8_t>(Msg::hello) ||
      head[1] > static_cast<std::uint8_t>(Msg::commit))
    return fail(make_error(Errc::invalid_value,
                           fmt::format("control message type {} unknown", head[1]))
                    .at(at + 1));
  MsgHeader h;
  h.type = static_cast<Msg>(head[1]);
  h.length = (std::uint32_t{head[2]} << 24) | (std::uint32_t{head[3]} << 16) |
             (std::uint32_t{head[4]} << 8) | head[5];
  const std::size_t cap = h.type == Msg::device_state ? device_state_max : kSmallMsgMax;
  if (h.length > cap)
    return fail(make_error(Errc::limit_exceeded,
                           fmt::format("{} message of {} bytes (at most {})", msg_name(h.type),
                                       h.length, cap))
                    .at(at + 2));
  return h;
}

Result<Message> read_msg(Channel& ch) {
  SW_TRY(h, read_msg_header(ch, kSmallMsgMax));
  Message m;
  m.type = h.type;
  m.payload.resize(h.length);
  SW_CHECK(ch.read_exact(m.payload));
  return m;
}

Result<std::size_t> LimitedSource::read(std::span<std::uint8_t> dst) {
  if (left_ == 0) return std::size_t{0};
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(dst.size(), left_));
  SW_TRY(n, ch_.read(dst.first(want)));
  if (n == 0)
    return fail(Errc::truncated,
                fmt::format("{} closed with {} bytes of the device state still to come",
                            ch_.peer(), left_));
  left_ -= n;
  crc_ = crc32c(crc_, dst.data(), n);
  return n;
}

Bytes encode_data_hello(std::uint64_t session_id, std::uint32_t index, std::uint32_t count) {
  ByteWriter w;
  w.put_bytes(ByteSpan(kDataMagic, sizeof kDataMagic));
  w.put_be64(session_id);
  w.put_be32(index);
  w.put_be32(count);
  return std::move(w).take();
}

Result<DataHello> decode_data_hello(ByteSpan bytes) {
  Cursor c(bytes);
  SW_TRY(m, c.read_bytes(sizeof kDataMagic));
  if (std::memcmp(m.data(), kDataMagic, sizeof kDataMagic) != 0)
    return fail(make_error(Errc::bad_magic, "data channel does not start with its hello").at(0));
  DataHello h;
  SW_TRY(id, c.read_be64());
  SW_TRY(index, c.read_be32());
  SW_TRY(count, c.read_be32());
  h.session_id = id;
  h.index = index;
  h.count = count;
  return h;
}

}  // namespace statewire::detail

namespace statewire::detail {

namespace {
void put_str(ByteWriter& w, std::string_view s) {
  w.put_be32(static_cast<std::uint32_t>(s.size()));
  w.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}
Result<std::string> get_str(Cursor& c, std::size_t max) {
  SW_TRY(n, c.read_be32());
  if (n > max) return fail(c.error_here(Errc::limit_exceeded, fmt::format("string of {} bytes (at most {})", n, max)));
  SW_TRY(b, c.read_bytes(n));
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
Result<void> at_end(const Cursor& c, std::string_view what) {
  if (!c.empty())
    return fail(c.error_here(Errc::invalid_value, fmt::format("{} message has {} extra bytes", what, c.remaining())));
  return {};
}
}  // namespace

Bytes encode_round(const RoundReport& r) {
  ByteWriter w;
  w.put_be64(r.round);
  w.put_u8(r.final ? 1 : 0);
  w.put_be64(r.page_bytes);
  w.put_be64(r.wire_bytes);
  return std::move(w).take();
}

Result<RoundReport> decode_round(ByteSpan p) {
  Cursor c(p);
  RoundReport r;
  SW_TRY(round, c.read_be64());
  SW_TRY(fin, c.read_u8());
  SW_TRY(pb, c.read_be64());
  SW_TRY(wb, c.read_be64());
  if (fin > 1) return fail(make_error(Errc::invalid_value, fmt::format("round flag {}", fin)).at(8));
  r.round = round;
  r.final = fin == 1;
  r.page_bytes = pb;
  r.wire_bytes = wb;
  SW_CHECK(at_end(c, "round"));
  return r;
}

Bytes encode_complete(const CompleteReport& cr) {
  ByteWriter w;
  w.put_be32(cr.device_state_crc);
  w.put_be32(static_cast<std::uint32_t>(cr.sections.size()));
  for (const auto& s : cr.sections) {
    put_str(w, s.name);
    w.put_be32(s.instance_id);
    w.put_be32(s.version);
    w.put_be32(s.crc);
  }
  return std::move(w).take();
}

Result<CompleteReport> decode_complete(ByteSpan p) {
  Cursor c(p);
  CompleteReport cr;
  SW_TRY(crc, c.read_be32());
  cr.device_state_crc = crc;
  SW_TRY(n, c.read_be32());
  if (n > c.remaining() / 16)
    return fail(c.error_here(Errc::limit_exceeded, fmt::format("{} section checksums in {} bytes", n, c.remaining())));
  cr.sections.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    SectionSum s;
    SW_TRY(name, get_str(c, 255));
    SW_TRY(inst, c.read_be32());
    SW_TRY(ver, c.read_be32());
    SW_TRY(sum, c.read_be32());
    s.name = std::move(name);
    s.instance_id = inst;
    s.version = ver;
    s.crc = sum;
    cr.sections.push_back(std::move(s));
  }
  SW_CHECK(at_end(c, "complete"));
  return cr;
}

Bytes encode_verdict(const Verdict& v) {
  ByteWriter w;
  w.put_u8(v.ok);
  put_str(w, v.text.substr(0, 4000));
  return std::move(w).take();
}

Result<Verdict> decode_verdict(ByteSpan p) {
  Cursor c(p);
  Verdict v;
  SW_TRY(ok, c.read_u8());
  if (ok > 2) return fail(make_error(Errc::invalid_value, fmt::format("verdict {}", ok)).at(0));
  v.ok = ok;
  SW_TRY(text, get_str(c, 4096));
  v.text = std::move(text);
  SW_CHECK(at_end(c, "verdict"));
  return v;
}

Bytes encode_crcs(const std::vector<std::uint32_t>& crcs) {
  ByteWriter w;
  w.put_be32(static_cast<std::uint32_t>(crcs.size()));
  for (auto v : crcs) w.put_be32(v);
  return std::move(w).take();
}

Result<std::vector<std::uint32_t>> decode_crcs(ByteSpan p, std::size_t expected) {
  Cursor c(p);
  SW_TRY(n, c.read_be32());
  if (n != expected)
    return fail(make_error(Errc::mismatch, fmt::format("{} region checksums, {} regions", n, expected)).at(0));
  std::vector<std::uint32_t> out;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    SW_TRY(v, c.read_be32());
    out.push_back(v);
  }
  SW_CHECK(at_end(c, "memory-check"));
  return out;
}

}  // namespace statewire::detail
