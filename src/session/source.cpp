// The source session: handshake, pre-copy rounds, stop-and-copy, the answer.
#include <fmt/format.h>

#include <random>
#include <thread>

#include "core/crc32c.hpp"
#include "session/control.hpp"
#include "session/state_machine.hpp"
#include "statewire/framed.hpp"
#include "statewire/session.hpp"

namespace statewire {

namespace {

using detail::Msg;

std::uint64_t new_session_id() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

class SourceRun {
 public:
  SourceRun(const Registry& devices, const SessionMemory& mem, const Endpoint& to,
            const SourceOptions& opt)
      : devices_(devices), mem_(mem), to_(to), opt_(opt), machine_(opt.on_state) {}

  SessionSummary run() {
    auto r = body();
    if (!r) finish_failure(std::move(r.error()));
    detail::finish_summary(summary_, machine_, control_, data_);
    return summary_;
  }

 private:
  bool cancelled() const { return opt_.cancel && opt_.cancel->load(std::memory_order_relaxed); }
  bool has_memory() const { return mem_.regions && !mem_.regions->empty(); }

  Result<void> check_cancel() {
    if (cancelled()) return fail(Errc::io_error, "cancelled by the source");
    return {};
  }

  // Reads the destination's next message, turning its refusal into our error.
  Result<detail::Message> expect(Msg want) {
    SW_TRY(m, detail::read_msg(control_));
    if (m.type == Msg::refuse) {
      SW_TRY(e, decode_error(m.payload));
      summary_.refused_by_peer = true;
      return fail(std::move(e));
    }
    if (m.type != want)
      return fail(Errc::mismatch, fmt::format("the destination sent {} where {} was due",
                                              detail::msg_name(m.type), detail::msg_name(want)));
    return m;
  }

  Result<void> body() {
    // A destination started at the same moment may not listen yet: retry
    // a refused connection until the connect timeout.
    const auto deadline = std::chrono::steady_clock::now() + opt_.connect_timeout;
    for (;;) {
      auto c = connect(to_, opt_.connect_timeout);
      if (c) {
        control_ = std::move(*c);
        break;
      }
      if (std::chrono::steady_clock::now() + std::chrono::milliseconds(50) >= deadline)
        return fail(std::move(c.error()));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    control_.set_timeout(opt_.timeout);
    machine_.to(SessionState::negotiate, fmt::format("connected to {}", control_.peer()));
    SW_CHECK(negotiate());
    if (has_memory()) SW_CHECK(iterate());
    SW_CHECK(check_cancel());
    return stop_and_copy();
  }

  Result<void> negotiate() {
    Hello h;
    h.producer = "statewire";
    h.machine_type = opt_.machine_type;
    summary_.machine_type = opt_.machine_type;
    h.session_id = new_session_id();
    // Page CRCs only when asked for: on a stream socket (its own checksums)
    // the end-to-end digest before "prepared" catches damage at a fraction
    // of the cost (docs/memory-transfer.md).
    std::vector<std::string> offered;
    const bool page_crc = opt_.page_checksums.value_or(!to_.is_socket());
    for (const auto& c : opt_.capabilities.names())
      if (c != caps::kPageCrc || page_crc) offered.push_back(c);
    h.capabilities = CapabilitySet(std::move(offered));
    h.channels = has_memory() ? std::max<std::uint32_t>(1, opt_.channels) : 1;
    h.sections = section_infos(devices_);
    h.regions = mem_.regions ? layout(*mem_.regions) : std::vector<RegionLayout>{};
    SW_CHECK(detail::send_msg(control_, Msg::hello, encode_hello(h)));
    SW_TRY(m, expect(Msg::welcome));
    SW_TRY(w, decode_welcome(m.payload));
    agreed_ = w.capabilities;
    summary_.settings = apply(w.capabilities);
    summary_.channels = has_memory() ? w.channels : 0;
    summary_.settings.channels = summary_.channels;
    summary_.page_checksums = has_memory() && agreed_.contains(caps::kPageCrc);
    if (w.channels > h.channels)
      return fail(Errc::mismatch, fmt::format("the destination agreed to {} data channels, {} were "
                                              "asked for", w.channels, h.channels));
    for (std::uint32_t i = 0; i < summary_.channels; ++i) {
      SW_TRY(ch, connect(to_, opt_.connect_timeout));
      ch.set_timeout(opt_.timeout);
      SW_CHECK(ch.write(detail::encode_data_hello(h.session_id, i, summary_.channels)));
      data_.push_back(std::move(ch));
    }
    SW_CHECK(expect(Msg::ready));
    machine_.to(has_memory() ? SessionState::iterate : SessionState::stop_and_copy,
                fmt::format("handshake accepted by {}: {} data channel(s), codec {}, compression {}",
                            w.producer, summary_.channels, summary_.settings.codec,
                            compression_name(summary_.settings.compression)));
    return {};
  }

  Result<void> iterate() {
    std::vector<Channel*> chans;
    for (auto& d : data_) chans.push_back(&d);
    RamSendOptions ro;
    ro.compression = summary_.settings.compression;
    // Page CRCs when both agreed on them (headers and tables always have theirs).
    ro.page_checksums = summary_.page_checksums;
    ro.bandwidth_limit = mem_.bandwidth_limit;
    ro.cancel = opt_.cancel;
    sender_ = std::make_unique<RamSender>(*mem_.regions, *mem_.tracker, chans, ro);
    if (mem_.progress) sender_->on_progress(mem_.progress);
    PrecopyController policy(mem_.policy);
    for (;;) {
      SW_CHECK(check_cancel());
      SW_TRY(st, sender_->send_round());
      policy.record_round(st.page_bytes, st.seconds);
      summary_.rounds++;
      summary_.memory_bytes += st.page_bytes;
      summary_.memory_seconds += st.seconds;
      SW_CHECK(detail::send_msg(control_, Msg::round,
                                detail::encode_round({st.round, false, st.page_bytes, st.wire_bytes})));
      // While the program runs: the page CRCs the wire did not carry, so the
      // digest at the stop costs only the last round's pages.
      if (opt_.verify_memory) SW_CHECK(sender_->prepare_digest());
      SW_TRY(dirty, sender_->dirty_bytes());
      const PrecopyDecision d = policy.decide(dirty);
      if (d.action == PrecopyDecision::Action::stop_and_copy) {
        summary_.expected_downtime_ms = d.expected_downtime * 1000.0;
        machine_.to(SessionState::stop_and_copy,
                    fmt::format("after {} round(s): {}", summary_.rounds, d.reason));
        return {};
      }
    }
  }

  Result<void> stop_and_copy() {
    if (opt_.pause) opt_.pause();
    paused_ = true;
    const auto t0 = std::chrono::steady_clock::now();
    if (sender_) {
      SW_TRY(st, sender_->send_final());
      summary_.rounds++;
      summary_.memory_bytes += st.page_bytes;
      summary_.memory_seconds += st.seconds;
      SW_CHECK(detail::send_msg(control_, Msg::round,
                                detail::encode_round({st.round, true, st.page_bytes, st.wire_bytes})));
      if (opt_.verify_memory) {
        // The destination compares its staged image with this before it
        // says "prepared": damage is refused before anything is applied.
        const auto v0 = std::chrono::steady_clock::now();
        SW_TRY(digest, sender_->memory_digest());
        summary_.verify_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - v0).count();
        SW_CHECK(detail::send_msg(control_, Msg::memory_check, detail::encode_crcs(digest)));
        digest_sent_ = true;
      }
    }

    // The device state: every registered section as a framed stream, and
    // the CRC32C of each body as saved, for the destination's verification.
    FramedEncodeOptions fo;
    fo.header.machine_type = opt_.machine_type;
    fo.header.capabilities = agreed_.names();
    fo.fingerprints = devices_.fingerprints();
    FramedStreamWriter writer(fo);
    SW_CHECK(writer.begin());
    detail::CompleteReport report;
    ByteWriter body;
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      SW_TRY(s, devices_.save_section(i, opt_.save));
      SW_CHECK(writer.section(s));
      body.truncate(0);
      SW_TRY(version, devices_.save_body(i, body, opt_.save));
      const auto& g = devices_.registrations()[i];
      report.sections.push_back({g.section, g.instance_id, version,
                                 detail::crc32c(0, body.bytes().data(), body.bytes().size())});
    }
    SW_CHECK(writer.finish());
    const Bytes state = std::move(writer).take();
    report.device_state_crc = detail::crc32c(0, state.data(), state.size());
    summary_.device_bytes = state.size();
    SW_CHECK(detail::send_msg(control_, Msg::device_state, state));
    SW_CHECK(detail::send_msg(control_, Msg::complete, detail::encode_complete(report)));

    SW_TRY(prep, expect(Msg::prepared));
    SW_TRY(prepared, detail::decode_verdict(prep.payload));
    (void)prepared;
    // The destination checked our digest before it said "prepared".
    if (digest_sent_) summary_.memory_verified = true;
    SW_CHECK(check_cancel());
    // From here on the destination may run the program: we never resume it.
    commit_sent_ = true;
    SW_CHECK(detail::send_msg(control_, Msg::commit, {}));
    SW_TRY(ack, expect(Msg::applied));
    summary_.downtime_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    // The destination runs the program now: the writes we tracked no longer matter.
    if (sender_) sender_->stop_tracking();
    SW_TRY(applied, detail::decode_verdict(ack.payload));
    summary_.answer = applied.text;
    if (applied.ok != 2) summary_.devices_verified = applied.ok == 1;
    machine_.to(SessionState::complete, fmt::format("the destination answered: {}", applied.text));
    return {};
  }

  void finish_failure(Error e) {
    const bool by_cancel = cancelled() && !summary_.refused_by_peer;
    // Say "cancel" before the data channels drop, so the destination hears
    // why rather than a broken page stream.
    if (by_cancel && control_.is_open())
      (void)detail::send_msg(control_, Msg::cancel, encode_error(e));
    if (sender_) sender_->cancel();
    for (auto& d : data_) d.abort();
    if (control_.is_open()) {
      if (!by_cancel && !summary_.refused_by_peer) {
        // The destination may have said why before it dropped the data
        // channels (a page that failed its CRC): its reason is the real one.
        control_.set_timeout(Timeout(2000));
        for (int i = 0; i < 64; ++i) {
          auto m = detail::read_msg(control_);
          if (!m) break;
          if (m->type == Msg::refuse) {
            if (auto pe = decode_error(m->payload)) {
              e = std::move(*pe);
              summary_.refused_by_peer = true;
            }
            break;
          }
        }
      }
    }
    // After the commit only an explicit refusal proves the destination
    // applied nothing; a lost answer leaves it unknown.
    if (commit_sent_ && !summary_.refused_by_peer) {
      e.message += "; the commit was sent, so the destination may be running the program: the "
                   "source stays stopped";
    } else if (paused_ && opt_.resume) {
      opt_.resume();
    }
    summary_.error = e;
    machine_.to(by_cancel ? SessionState::cancelled : SessionState::failed, e.to_string());
    control_.close();
  }

  const Registry& devices_;
  const SessionMemory& mem_;
  const Endpoint& to_;
  const SourceOptions& opt_;
  detail::SessionMachine machine_;
  SessionSummary summary_;
  CapabilitySet agreed_;
  Channel control_;
  std::vector<Channel> data_;
  std::unique_ptr<RamSender> sender_;
  bool paused_ = false;
  bool commit_sent_ = false;
  bool digest_sent_ = false;
};

}  // namespace

SessionSummary migrate_source(const Registry& devices, const SessionMemory& memory,
                              const Endpoint& to, const SourceOptions& opt) {
  SourceRun run(devices, memory, to, opt);
  return run.run();
}

}  // namespace statewire
