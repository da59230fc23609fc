// The destination session: judge the hello, stage pages and sections,
// validate everything, commit only when the source says so, answer.
#include <fmt/format.h>
#include <poll.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "core/crc32c.hpp"
#include "session/control.hpp"
#include "session/state_machine.hpp"
#include "statewire/framed.hpp"
#include "statewire/planner.hpp"
#include "statewire/schema_catalog.hpp"
#include "statewire/session.hpp"

namespace statewire {

namespace {

using detail::Msg;

class DestinationRun {
 public:
  DestinationRun(Registry& devices, const SessionMemory& mem, Listener& listener,
                 const DestinationOptions& opt)
      : devices_(&devices), mem_(mem), listener_(listener), opt_(opt), machine_(opt.on_state) {}

  ~DestinationRun() { stop_receiver(); }

  SessionSummary run() {
    auto r = body();
    if (!r) finish_failure(std::move(r.error()));
    detail::finish_summary(summary_, machine_, control_, data_);
    return summary_;
  }

 private:
  bool cancelled() const { return opt_.cancel && opt_.cancel->load(std::memory_order_relaxed); }
  bool has_memory() const { return mem_.regions && !mem_.regions->empty(); }

  Result<void> body() {
    SW_TRY(control, listener_.accept(opt_.accept_timeout));
    control_ = std::move(control);
    control_.set_timeout(opt_.timeout);
    machine_.to(SessionState::negotiate, fmt::format("source connected from {}", control_.peer()));
    SW_CHECK(negotiate());
    SW_CHECK(wait_for_device_state());
    return stop_and_copy();
  }

  // Sends our refusal on the return path, then fails with it.
  Unexpected refuse(Error e) {
    if (control_.is_open()) (void)detail::send_msg(control_, Msg::refuse, encode_error(e));
    refused_ = true;
    return fail(std::move(e));
  }

  Result<void> negotiate() {
    auto first = detail::read_msg(control_);
    if (!first) {
      // A silent or vanished peer has no one to tell; a bad message does.
      if (first.error().code == Errc::io_error || first.error().code == Errc::truncated)
        return fail(std::move(first.error()));
      return refuse(std::move(first.error()).in_section("hello"));
    }
    detail::Message m = std::move(*first);
    if (m.type != Msg::hello)
      return refuse(make_error(Errc::mismatch, fmt::format("expected a hello, got {}",
                                                           detail::msg_name(m.type))));
    auto hello = decode_hello(m.payload, opt_.limits);
    if (!hello) return refuse(std::move(hello.error()).in_section("hello"));
    if (opt_.select_machine) {
      // The source's machine type decides which devices this destination
      // runs; one it cannot run is refused here, with the reason.
      auto chosen = opt_.select_machine(hello->machine_type);
      if (!chosen) return refuse(std::move(chosen.error()).in_section("hello"));
      if (!*chosen)
        return refuse(make_error(Errc::unsupported, fmt::format("machine type '{}' is not supported "
                                                                "by the destination", hello->machine_type)));
      devices_ = *chosen;
    }
    DestinationProfile profile;
    profile.machine_types = opt_.machine_types;
    profile.capabilities = opt_.capabilities;
    profile.max_channels = opt_.max_channels;
    profile.sections = section_infos(*devices_);
    profile.regions = mem_.regions ? layout(*mem_.regions) : std::vector<RegionLayout>{};
    profile.transforms = opt_.transforms;
    auto verdict = check_hello(*hello, profile);
    if (!verdict) return refuse(std::move(verdict.error()));
    verdict_ = std::move(*verdict);
    summary_.sections = verdict_.sections;
    summary_.settings = apply(verdict_.welcome.capabilities);
    summary_.channels = has_memory() ? verdict_.welcome.channels : 0;
    summary_.settings.channels = summary_.channels;
    summary_.page_checksums = has_memory() && verdict_.welcome.capabilities.contains(caps::kPageCrc);
    verdict_.welcome.producer = opt_.producer.empty() ? "statewire" : opt_.producer;
    session_id_ = hello->session_id;
    machine_type_ = hello->machine_type;
    summary_.machine_type = machine_type_;
    SW_CHECK(detail::send_msg(control_, Msg::welcome, encode_welcome(verdict_.welcome)));

    // The data channels, each naming this session and its index.
    data_.resize(summary_.channels);
    std::set<std::uint32_t> seen;
    for (std::uint32_t i = 0; i < summary_.channels; ++i) {
      auto ch = listener_.accept(opt_.timeout);
      if (!ch) return refuse(std::move(ch.error()));
      ch->set_timeout(opt_.timeout);
      std::uint8_t raw[detail::kDataHelloBytes];
      SW_CHECK(ch->read_exact(raw));
      auto dh = detail::decode_data_hello(raw);
      if (!dh) return refuse(std::move(dh.error()));
      if (dh->session_id != session_id_ || dh->count != summary_.channels ||
          dh->index >= summary_.channels || !seen.insert(dh->index).second)
        return refuse(make_error(
            Errc::mismatch,
            fmt::format("data channel from {} names session {:016x} channel {} of {}; expected "
                        "session {:016x}, {} channels, each index once",
                        ch->peer(), dh->session_id, dh->index, dh->count, session_id_,
                        summary_.channels)));
      data_[dh->index] = std::move(*ch);
    }
    // Staging memory is reserved and faulted in before the source starts
    // sending, so the first round does not wait for page faults.
    if (has_memory()) SW_CHECK(start_receiver());
    SW_CHECK(detail::send_msg(control_, Msg::ready, {}));
    machine_.to(has_memory() ? SessionState::iterate : SessionState::stop_and_copy,
                fmt::format("accepted {} from {} ({} section(s), {} data channel(s){})",
                            machine_type_, hello->producer, hello->sections.size(),
                            summary_.channels,
                            verdict_.needs_planner ? ", versions differ: planner at stop" : ""));
    return {};
  }

  Result<void> start_receiver() {
    std::vector<Channel*> chans;
    for (auto& d : data_) chans.push_back(&d);
    RamReceiveOptions ro;
    ro.record_timeout = opt_.timeout;
    ro.cancel = opt_.cancel;
    receiver_ = std::make_unique<RamReceiver>(*mem_.regions, chans, ro);
    if (auto r = receiver_->prepare(); !r) return refuse(std::move(r.error()));
    receiver_thread_ = std::thread([this] {
      for (;;) {
        auto r = receiver_->receive_round();
        if (!r) {
          receiver_error_ = std::move(r.error());
          break;
        }
        if (r->final) break;
        // Between rounds, while the source runs: the CRCs of pages that came
        // without one, so verify() at the stop costs only the final round.
        if (auto d = receiver_->prepare_digest(); !d) {
          receiver_error_ = std::move(d.error());
          break;
        }
      }
      receiver_done_.store(true, std::memory_order_release);
    });
    return {};
  }

  void stop_receiver() {
    if (!receiver_thread_.joinable()) return;
    if (!receiver_done_.load(std::memory_order_acquire)) {
      receiver_->cancel();
      for (auto& d : data_) d.abort();
    }
    receiver_thread_.join();
  }

  Result<void> receiver_failed() {
    if (receiver_done_.load(std::memory_order_acquire) && receiver_error_) {
      Error e = *receiver_error_;
      return fail(std::move(e));
    }
    return {};
  }

  // Waits (in slices, so a failed page transfer or a cancel is noticed at
  // once) until the control channel has input; the idle bound is opt.timeout.
  Result<void> wait_control() {
    const auto deadline = std::chrono::steady_clock::now() + opt_.timeout;
    for (;;) {
      if (cancelled()) return fail(Errc::io_error, "cancelled by the destination");
      if (auto r = receiver_failed(); !r) {
        // A source that cancelled drops the data channels and says so on the
        // control channel: give its word a moment to arrive before blaming
        // the pages.
        pollfd p{control_.fd(), POLLIN, 0};
        if (!receiver_grace_ && ::poll(&p, 1, 1000) > 0) {
          receiver_grace_ = true;
          return {};
        }
        return refuse(std::move(r.error()));
      }
      pollfd p{control_.fd(), POLLIN, 0};
      const int n = ::poll(&p, 1, 100);
      if (n > 0) return {};
      if (std::chrono::steady_clock::now() > deadline)
        return fail(Errc::io_error, fmt::format("{}: nothing from the source within {} ms",
                                                control_.peer(), opt_.timeout.count()));
    }
  }

  Result<void> wait_for_device_state() {
    for (;;) {
      SW_CHECK(wait_control());
      SW_TRY(h, detail::read_msg_header(control_, opt_.max_device_state));
      if (h.type == Msg::device_state) {
        if (machine_.state() == SessionState::iterate)
          machine_.to(SessionState::stop_and_copy,
                      fmt::format("device state arriving after {} round(s)", summary_.rounds));
        return stage_devices(h.length);
      }
      Bytes payload(h.length);
      SW_CHECK(control_.read_exact(payload));
      switch (h.type) {
        case Msg::round: {
          SW_TRY(r, detail::decode_round(payload));
          summary_.rounds++;
          summary_.memory_bytes += r.page_bytes;
          break;
        }
        case Msg::memory_check: {
          const std::size_t regions = mem_.regions ? mem_.regions->size() : 0;
          auto digest = detail::decode_crcs(payload, regions);
          if (!digest) return refuse(std::move(digest.error()).in_field("memory digest"));
          source_digest_ = std::move(*digest);
          break;
        }
        case Msg::cancel: {
          SW_TRY(e, decode_error(payload));
          peer_cancelled_ = true;
          summary_.refused_by_peer = true;
          return fail(std::move(e));
        }
        case Msg::refuse: {
          SW_TRY(e, decode_error(payload));
          summary_.refused_by_peer = true;
          return fail(std::move(e));
        }
        default:
          return refuse(make_error(Errc::mismatch,
                                   fmt::format("{} message before the device state",
                                               detail::msg_name(h.type))));
      }
    }
  }

  // Reads the framed device state straight off the control channel, one
  // section at a time: each is staged as it arrives (or, when versions
  // differ, kept for the planner, which needs the whole state).
  Result<void> stage_devices(std::uint32_t length) {
    txn_.emplace(devices_->begin_load(opt_.load));
    detail::LimitedSource src(control_, length);
    FramedDecodeOptions fo;
    fo.max_buffer = std::max<std::size_t>(length, 4096);
    FramedStreamReader reader(src, fo);
    // A section is complete when the next record is not one of its chunks
    // (large arrays arrive in chunks after their section record).
    std::optional<Section> pending;
    auto flush = [&]() -> Result<void> {
      if (!pending) return {};
      Section s = std::move(*pending);
      pending.reset();
      if (verdict_.needs_planner) {
        planned_.sections.push_back(std::move(s));
        return {};
      }
      if (auto r = txn_->stage(s); !r) return refuse(std::move(r.error()));
      return {};
    };
    for (;;) {
      auto item = reader.next();
      if (!item) {
        // A broken channel is the channel's error; bad bytes are ours to refuse.
        if (item.error().code == Errc::io_error || item.error().code == Errc::truncated)
          return fail(std::move(item.error()));
        return refuse(std::move(item.error()).in_field("device state"));
      }
      if (!*item) break;
      FramedItem& it = **item;
      switch (it.kind) {
        case FramedItem::Kind::envelope:
          break;
        case FramedItem::Kind::section:
          SW_CHECK(flush());
          pending = std::move(it.section);
          break;
        case FramedItem::Kind::chunk: {
          Array* arr = pending && it.member < pending->body.members.size()
                           ? pending->body.members[it.member].value.get_if<Array>()
                           : nullptr;
          if (!arr)
            return refuse(make_error(Errc::invalid_value,
                                     fmt::format("a chunk for member {} that no open section has",
                                                 it.member)));
          for (Value& v : it.items) arr->items.push_back(std::move(v));
          break;
        }
        case FramedItem::Kind::end:
          break;
      }
    }
    SW_CHECK(flush());
    if (src.left() != 0)
      return refuse(make_error(Errc::invalid_value,
                               fmt::format("{} bytes after the device state's end record",
                                           src.left())));
    summary_.device_bytes = length;
    device_crc_ = src.crc();
    return {};
  }

  Result<void> plan_and_stage() {
    SchemaCatalog catalog;
    for (const auto& g : devices_->registrations()) catalog.add_exact(g.section, g.instance_id, g.schema);
    PlanOptions po;
    po.transforms = opt_.transforms;
    po.validate.tests = opt_.tests;
    MigrationPlan plan = plan_migration(std::move(planned_), catalog, po);
    if (!plan.ok()) {
      Error e = plan.refusals.front();
      if (plan.refusals.size() > 1) {
        std::string all;
        for (const auto& r : plan.refusals) all += "; " + r.to_string();
        e.message = fmt::format("the planner refuses {} thing(s){}", plan.refusals.size(), all);
      } else {
        e.message = "the planner refuses: " + e.message;
      }
      return refuse(std::move(e));
    }
    for (const auto& sp : plan.sections)
      if (!sp.chain.empty()) plan_steps_ += sp.chain.size();
    for (const Section& s : plan.result.sections)
      if (auto r = txn_->stage(s); !r) return refuse(std::move(r.error()));
    planned_ = std::move(plan.result);
    return {};
  }

  Result<void> stop_and_copy() {
    SW_CHECK(wait_control());
    SW_TRY(m, detail::read_msg(control_));
    if (m.type == Msg::cancel || m.type == Msg::refuse) {
      SW_TRY(e, decode_error(m.payload));
      peer_cancelled_ = m.type == Msg::cancel;
      summary_.refused_by_peer = true;
      return fail(std::move(e));
    }
    if (m.type != Msg::complete)
      return refuse(make_error(Errc::mismatch, fmt::format("{} after the device state, expected "
                                                           "complete", detail::msg_name(m.type))));
    auto complete = detail::decode_complete(m.payload);
    if (!complete) return refuse(std::move(complete.error()).in_field("complete"));
    complete_ = std::move(*complete);
    if (complete_.device_state_crc != device_crc_)
      return refuse(make_error(Errc::mismatch,
                               fmt::format("device state CRC32C 0x{:08x}, the source sent 0x{:08x}",
                                           device_crc_, complete_.device_state_crc)));
    if (verdict_.needs_planner) SW_CHECK(plan_and_stage());

    // Every page of the final round, then nothing missing anywhere.
    if (receiver_thread_.joinable()) {
      const auto deadline = std::chrono::steady_clock::now() + opt_.timeout;
      while (!receiver_done_.load(std::memory_order_acquire)) {
        if (cancelled()) return fail(Errc::io_error, "cancelled by the destination");
        if (std::chrono::steady_clock::now() > deadline)
          return refuse(make_error(Errc::io_error, fmt::format("the final memory round did not "
                                                               "arrive within {} ms",
                                                               opt_.timeout.count())));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      receiver_thread_.join();
      if (receiver_error_) return refuse(*receiver_error_);
      if (!receiver_->complete())
        return refuse(make_error(Errc::truncated, "memory: the final round never arrived"));
      // Every page intact and the staged image equal to the source's memory,
      // before "prepared": a damaged page is refused here, nothing applied.
      if (auto r = receiver_->verify(source_digest_ ? std::span<const std::uint32_t>(*source_digest_)
                                                     : std::span<const std::uint32_t>());
          !r)
        return refuse(std::move(r.error()));
      if (source_digest_) {
        summary_.memory_verified = true;
        memory_text_ = fmt::format("; memory equals the source's ({} region(s), digest of every page's CRC32C)",
                                   mem_.regions->size());
      }
    }
    if (auto missing = txn_->missing(); !missing.empty()) {
      const auto& g = devices_->registrations()[missing.front()];
      Error e = make_error(Errc::not_found,
                           fmt::format("section {} was not sent{}", g.label(),
                                       missing.size() > 1
                                           ? fmt::format(" ({} more missing)", missing.size() - 1)
                                           : std::string()));
      e.section = g.label();
      return refuse(std::move(e));
    }

    SW_CHECK(detail::send_msg(
        control_, Msg::prepared,
        detail::encode_verdict({1, fmt::format("staged {} section(s){} and {} bytes of memory{}",
                                               txn_->staged_count(),
                                               plan_steps_ ? fmt::format(" through {} transform "
                                                                         "step(s)", plan_steps_)
                                                           : std::string(),
                                               summary_.memory_bytes, memory_text_)})));
    SW_CHECK(wait_control());
    SW_TRY(go, detail::read_msg(control_));
    if (go.type != Msg::commit) {
      if (go.type == Msg::cancel || go.type == Msg::refuse) {
        SW_TRY(e, decode_error(go.payload));
        peer_cancelled_ = go.type == Msg::cancel;
        summary_.refused_by_peer = true;
        return fail(std::move(e));
      }
      return refuse(make_error(Errc::mismatch, fmt::format("{} where the commit was due",
                                                           detail::msg_name(go.type))));
    }

    // Memory first: its commit refuses only an incomplete transfer, checked
    // above; the device commit then cannot refuse (nothing failed, nothing
    // missing). So either both apply or neither does.
    // RamReceiver::commit() checks every page (a page that failed its CRC
    // and was never sent again) before it writes anything, so a refusal here
    // still means nothing was applied, and the source is told so.
    if (receiver_) {
      if (auto r = receiver_->commit(); !r) return refuse(std::move(r.error()));
    }
    if (auto r = txn_->commit(); !r) {
      applied_ = receiver_ != nullptr;  // memory went in: say so rather than hide it
      return refuse(std::move(r.error()));
    }
    applied_ = true;
    detail::Verdict devices = verify_devices();
    devices.text += memory_text_;
    summary_.devices_verified = devices.ok == 2 ? std::optional<bool>() : devices.ok == 1;
    summary_.answer = devices.text;
    SW_CHECK(detail::send_msg(control_, Msg::applied, detail::encode_verdict(devices)));
    machine_.to(SessionState::complete, devices.text);
    return {};
  }

  // Re-saves what was applied and compares: at the source's version, the
  // body's CRC32C with the source's; through the planner, the tree with the
  // planner's result.
  detail::Verdict verify_devices() {
    std::size_t equal = 0, differ = 0;
    std::string first;
    if (verdict_.needs_planner) {
      for (const Section& s : planned_.sections) {
        auto i = devices_->find(s.name, s.instance_id);
        if (!i) continue;
        auto mine = devices_->save_section(*i);
        if (mine && mine->body == s.body && mine->version_id == s.version_id) {
          ++equal;
        } else {
          ++differ;
          if (first.empty()) first = fmt::format("{}/{}", s.name, s.instance_id);
        }
      }
    } else {
      ByteWriter w;
      for (const auto& sum : complete_.sections) {
        auto i = devices_->find(sum.name, sum.instance_id);
        RegistrySaveOptions so;
        so.versions[sum.name] = sum.version;
        w.truncate(0);
        bool ok = false;
        if (i && devices_->save_body(*i, w, so))
          ok = detail::crc32c(0, w.bytes().data(), w.bytes().size()) == sum.crc;
        if (ok) {
          ++equal;
        } else {
          ++differ;
          if (first.empty()) first = fmt::format("{}/{}", sum.name, sum.instance_id);
        }
      }
    }
    detail::Verdict v;
    v.ok = differ == 0 ? 1 : 0;
    v.text = differ == 0
                 ? fmt::format("applied {} section(s){} and {} bytes of memory; device state "
                               "equals the source's ({} section(s) checked, CRC32C 0x{:08x})",
                               txn_->staged_count(),
                               plan_steps_ ? fmt::format(" through {} transform step(s)", plan_steps_)
                                           : std::string(),
                               summary_.memory_bytes, equal, device_crc_)
                 : fmt::format("applied, but {} section(s) differ from the source's (first: {})",
                               differ, first);
    return v;
  }

  void finish_failure(Error e) {
    stop_receiver();
    if (receiver_ && !applied_) receiver_->discard();
    txn_.reset();
    // Errors of our own judgement went to the source already (refuse());
    // a broken channel has no one to tell.
    summary_.error = e;
    const bool cancel = cancelled() || peer_cancelled_;
    if (cancel && !refused_ && control_.is_open() && !summary_.refused_by_peer)
      (void)detail::send_msg(control_, Msg::refuse, encode_error(e));
    machine_.to(cancel ? SessionState::cancelled : SessionState::failed, e.to_string());
    control_.close();
  }

  Registry* devices_;  // the caller's, or the one select_machine chose
  const SessionMemory& mem_;
  Listener& listener_;
  const DestinationOptions& opt_;
  detail::SessionMachine machine_;
  SessionSummary summary_;
  HelloVerdict verdict_;
  std::uint64_t session_id_ = 0;
  std::string machine_type_;
  Channel control_;
  std::vector<Channel> data_;
  std::unique_ptr<RamReceiver> receiver_;
  std::thread receiver_thread_;
  std::atomic<bool> receiver_done_{false};
  std::optional<Error> receiver_error_;
  std::optional<LoadTransaction> txn_;
  StateStream planned_;
  std::size_t plan_steps_ = 0;
  detail::CompleteReport complete_;
  std::uint32_t device_crc_ = 0;
  std::optional<std::vector<std::uint32_t>> source_digest_;  // the source's memory digest
  std::string memory_text_;  // what verify() established, for the answers
  bool refused_ = false;
  bool receiver_grace_ = false;
  bool peer_cancelled_ = false;
  bool applied_ = false;
};

}  // namespace

SessionSummary migrate_destination(Registry& devices, const SessionMemory& memory,
                                   Listener& listener, const DestinationOptions& opt) {
  DestinationRun run(devices, memory, listener, opt);
  return run.run();
}

}  // namespace statewire
