// The proxy's forward direction: the source's stream is read through a tee
// that keeps every byte until it is forwarded, a QemuStreamReader finds the
// record boundaries in it, and bytes are written to the destination in the
// pieces they arrived in (no per-page copies). What may be forwarded is
// bounded by the last boundary the reader has classified; a rewrite is a
// splice (replace input bytes [begin, end) by others) applied on the way.
#include "statewire/proxy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "proxy/extra_channels.hpp"
#include "proxy/held_sections.hpp"
#include "proxy/return_path.hpp"
#include "statewire/qemu_stream.hpp"

namespace statewire {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The reader stops at EOF when device sections are held: the trailer after
// it is read by the proxy itself (the reader would wait for the end of the
// input, which a source on the return path sends only after its answer).
constexpr std::string_view kStopAtEof = "proxy: stop at EOF";

struct Splice {
  std::uint64_t begin = 0, end = 0;
  Bytes bytes;
};

class Forwarder final : public ByteSource, public qemu::QemuStreamVisitor {
 public:
  Forwarder(Channel& src, Channel& dst, const ProxyOptions& opt, ProxyResult& res,
            std::atomic<std::uint64_t>& back, std::atomic<bool>& opened, std::atomic<bool>& sent,
            Clock::time_point start)
      : src_(src), dst_(dst), opt_(opt), res_(res), back_(back), opened_(opened), sent_(sent),
        start_(start) {
    // Section bodies change only through a plan or rules: then the device
    // sections are held. Renames and the machine type change headers only,
    // spliced as the records pass; nothing is held but the trailer.
    holding_needed_ = (opt.destination && !opt.destination->empty()) || opt.apply_rules_without_plan;
    rewriting_ = holding_needed_ || !opt.renames.empty() || opt.machine_type.has_value();
    // Only whole records the reader has classified go out (a command the
    // proxy refuses, such as postcopy's, never reaches the destination);
    // after EOF, whatever follows.
    last_progress_ = start_;
  }

  // --- ByteSource: what the reader reads, kept for forwarding ----------------
  Result<std::size_t> read(std::span<std::uint8_t> dst) override {
    // Before waiting for more input, everything classified goes out: the
    // destination must never wait on bytes the proxy could have sent.
    // With multifd, the source waits for the destination at every
    // iteration's sync, and the main channel carries little: the reader's
    // look-ahead for the configuration record (64 KiB) would not fill. Until
    // the reader is past it, bytes go out as they come (the configuration's
    // machine name is spliced without the reader; a renamed header that went
    // out unclassified is an error, see splice_rename).
    if (opt_.more_sources && !past_config_ && config_checked_) limit_ = std::max(limit_, pending_end());
    SW_CHECK(flush());
    SW_TRY(n, src_.read(dst));
    SW_CHECK(keep(ByteSpan(dst.data(), n)));
    return n;
  }

  // --- visitor ----------------------------------------------------------------
  Result<void> on_configuration(const Struct&, std::uint64_t) override {
    past_config_ = true;
    return {};
  }
  Result<void> on_command(std::uint16_t cmd, ByteSpan data, std::uint64_t offset) override {
    past_config_ = true;
    if (cmd == 1) opened_ = true;  // MIG_CMD_OPEN_RETURN_PATH
    // MIG_CMD_POSTCOPY_ADVISE with its page sizes: the source may switch to
    // postcopy, whose device state comes packaged (MIG_CMD_PACKAGED) once
    // the destination is to run; the proxy does not carry that (docs/proxy.md).
    // Refused here, at the start, the source's migration fails while its
    // guest still runs, rather than at the switch when it cannot go back.
    if (cmd == 3 && !data.empty())
      return fail(Errc::unsupported,
                  fmt::format("postcopy is not supported through the proxy (MIG_CMD_POSTCOPY_ADVISE "
                              "at offset {}): migrate without the postcopy-ram capability",
                              offset));
    return boundary(offset);
  }
  Result<void> on_section_begin(const qemu::SectionHeader& h) override {
    past_config_ = true;
    ++res_.sections;
    if (h.kind == SectionKind::end && res_.timeline.completion < 0) {
      mark(res_.timeline.completion);
      res_.timeline.completion_offset = h.offset;
    }
    if (h.kind == SectionKind::full) mark(res_.timeline.device_state);
    // Held FULL sections are renamed with the rest of the held state; a
    // START section (an iterable device) comes early and is never held.
    if (h.kind == SectionKind::start || (!holding_needed_ && h.kind == SectionKind::full))
      SW_CHECK(splice_rename(h));
    if (holding_needed_ && h.kind == SectionKind::full && !holding_) {
      // QEMU sends non-iterable device state last, all FULL sections in a
      // row: hold from the first one until the trailer has come.
      SW_CHECK(boundary(h.offset));
      holding_ = true;
      hold_from_ = h.offset;
      hold_start_ = Clock::now();
      return {};
    }
    if (!holding_) return boundary(h.offset);
    return {};
  }
  Result<void> on_ram_record(const qemu::RamRecord& r) override {
    past_config_ = true;
    if (!holding_) return boundary(r.stream_offset);
    return {};
  }
  Result<void> on_section_end(const qemu::SectionSummary& s) override {
    if (holding_) return {};
    return boundary(s.header.body_offset + s.body_size + (s.footer ? 5 : 0));
  }
  Result<void> on_eof(std::uint64_t offset) override {
    eof_offset_ = offset;
    mark(res_.timeline.eof);
    res_.timeline.eof_offset = offset;
    if (!rewriting_) {
      // The trailer follows at once and the destination reads it before it
      // answers; the reader would wait for the end of the input to take it.
      limit_ = UINT64_MAX;
      return {};
    }
    return fail(Errc::invalid_value, std::string(kStopAtEof));
  }
  Result<void> on_trailer(std::string_view, std::uint64_t) override {
    res_.trailer = true;
    mark(res_.timeline.trailer);
    return {};
  }

  // --- the run ------------------------------------------------------------------
  Result<void> run() {
    qemu::QemuDecodeOptions dopt;
    // Device bodies are only located (footers), never decoded here; the
    // trailer is not looked for ahead (the input ends only after the answer).
    dopt.decode_devices = false;
    dopt.verify_reencode = false;
    dopt.schema_order = {};
    qemu::QemuStreamReader reader(*this, dopt);
    auto r = reader.run(*this);
    if (!r) {
      if (!(rewriting_ && eof_offset_ && r.error().message == kStopAtEof)) {
        Error e = std::move(r.error());
        if (e.code == Errc::truncated)
          e.message = fmt::format("the source closed the connection after {} bytes, before the "
                                  "stream's end: {}", src_.bytes_read(), e.message);
        return Unexpected(std::move(e));
      }
      SW_CHECK(release_held());
    }
    // The rest of the input is forwarded as it comes until the source closes
    // (a source on the return path closes after the destination's answer).
    limit_ = UINT64_MAX;
    SW_CHECK(flush());
    std::uint8_t buf[4096];
    for (;;) {
      SW_TRY(n, src_.read(buf));
      if (n == 0) break;
      SW_CHECK(keep(ByteSpan(buf, n)));
      SW_CHECK(flush());
    }
    if (!eof_offset_)
      return fail(Errc::truncated,
                  fmt::format("the source closed after {} bytes, before the stream's EOF",
                              src_.bytes_read()));
    progress(true);
    return {};
  }

  std::uint32_t rewritten() const { return static_cast<std::uint32_t>(res_.rewritten.size()); }

 private:
  Result<void> keep(ByteSpan b) {
    if (b.empty()) return {};
    if (header_.size() < 8) {
      const std::size_t n = std::min<std::size_t>(8 - header_.size(), b.size());
      header_.insert(header_.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (pos_ > 0 && (pos_ >= pending_.size() / 2 || pending_.size() + b.size() > pending_.capacity())) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pos_));
      base_ += pos_;
      pos_ = 0;
    }
    pending_.insert(pending_.end(), b.begin(), b.end());
    if (!config_checked_ && pending_end() >= 13) SW_CHECK(check_config());
    return {};
  }
  std::uint64_t pending_end() const { return base_ + pending_.size(); }
  ByteSpan pending(std::uint64_t from, std::uint64_t to) const {
    return ByteSpan(pending_.data() + (from - base_), to - from);
  }

  // Everything before `offset` is classified: it may be forwarded.
  Result<void> boundary(std::uint64_t offset) {
    limit_ = std::max(limit_, offset);
    if (limit_ - out_ >= (1u << 20)) SW_CHECK(flush());
    return {};
  }

  Result<void> flush() {
    const std::uint64_t upto = std::min(limit_, pending_end());
    while (out_ < upto) {
      if (!splices_.empty() && splices_.front().begin <= out_) {
        Splice& s = splices_.front();
        if (s.end > pending_end()) break;  // its replaced bytes have not all arrived
        SW_CHECK(write(s.bytes));
        out_ = s.end;
        splices_.erase(splices_.begin());
        continue;
      }
      std::uint64_t stop = upto;
      if (!splices_.empty()) stop = std::min(stop, splices_.front().begin);
      SW_CHECK(write(pending(out_, stop)));
      out_ = stop;
    }
    if (eof_offset_ && out_ > *eof_offset_) {
      sent_ = true;
      mark(res_.timeline.eof_sent);
    }
    // Forwarded bytes are no longer needed.
    if (out_ > base_) pos_ = std::max<std::size_t>(pos_, std::min<std::uint64_t>(out_ - base_, pending_.size()));
    progress(false);
    return {};
  }

  Result<void> write(ByteSpan b) {
    if (b.empty()) return {};
    auto r = dst_.write(b);
    if (!r) {
      Error e = std::move(r.error());
      e.message = "to the destination: " + e.message;
      return Unexpected(std::move(e));
    }
    return {};
  }

  // The configuration record follows the 8-byte header: 0x07, be32 name
  // length, the machine name, then subsections. With --machine-type the
  // name is replaced (the subsections, capabilities and uuid, kept), from
  // the first 13 bytes on, without waiting for the reader.
  Result<void> check_config() {
    config_checked_ = true;
    if (base_ != 0 || pending_[8] != static_cast<std::uint8_t>(qemu::RecordType::configuration))
      return {};
    const std::uint32_t len = (std::uint32_t(pending_[9]) << 24) | (std::uint32_t(pending_[10]) << 16) |
                              (std::uint32_t(pending_[11]) << 8) | pending_[12];
    if (!opt_.machine_type || len > 4096) return {};  // a bad length: the reader says why
    const std::string& name = *opt_.machine_type;
    Splice sp{8, 13 + std::uint64_t(len), {}};
    sp.bytes.push_back(static_cast<std::uint8_t>(qemu::RecordType::configuration));
    const auto n = static_cast<std::uint32_t>(name.size());
    for (int sh = 24; sh >= 0; sh -= 8) sp.bytes.push_back(static_cast<std::uint8_t>(n >> sh));
    sp.bytes.insert(sp.bytes.end(), name.begin(), name.end());
    splices_.insert(splices_.begin(), std::move(sp));
    res_.configuration_rewritten = true;
    return {};
  }

  // A section header [offset, body_offset) written again under its new name
  // (type, be32 section id, u8 length, idstr, be32 instance, be32 version).
  Result<void> splice_rename(const qemu::SectionHeader& h) {
    for (const auto& [from, to] : opt_.renames) {
      if (h.idstr != from) continue;
      if (h.offset < out_)
        return fail(Errc::unsupported,
                    fmt::format("cannot rename section {}: its header at offset {} went out before "
                                "the reader reached it (multifd: the main channel's start passes "
                                "as it comes)",
                                from, h.offset));
      if (to.empty() || to.size() > 255)
        return fail(Errc::invalid_value,
                    fmt::format("rename {} -> {}: a section id is 1 to 255 bytes", from, to));
      Splice sp{h.offset, h.body_offset, {}};
      auto be32 = [&sp](std::uint32_t v) {
        for (int sh = 24; sh >= 0; sh -= 8) sp.bytes.push_back(static_cast<std::uint8_t>(v >> sh));
      };
      sp.bytes.push_back(static_cast<std::uint8_t>(h.kind == SectionKind::full
                                                       ? qemu::RecordType::section_full
                                                       : qemu::RecordType::section_start));
      be32(h.section_id);
      sp.bytes.push_back(static_cast<std::uint8_t>(to.size()));
      sp.bytes.insert(sp.bytes.end(), to.begin(), to.end());
      be32(h.instance_id);
      be32(h.version_id);
      splices_.push_back(std::move(sp));
      res_.rewritten.push_back(fmt::format("{}/{}", to, h.instance_id));
      return {};
    }
    return {};
  }

  // Reads until `end` bytes of the input are kept; false when the source
  // closed first, or (with `quick`) sent nothing for 5 s. The short wait
  // polls the channel's descriptor: its own timeout bounds the other reads.
  Result<bool> fill_to(std::uint64_t end, bool quick) {
    std::uint8_t buf[65536];
    while (pending_end() < end) {
      if (quick) {
        pollfd pfd{src_.fd(), POLLIN, 0};
        if (::poll(&pfd, 1, 5000) <= 0) return false;
      }
      SW_TRY(n, src_.read(buf));
      if (n == 0) return false;
      SW_CHECK(keep(ByteSpan(buf, n)));
    }
    return true;
  }

  // EOF has been seen: read the trailer that QEMU sends right after it, then
  // decode, transform, validate and re-encode the held sections and forward.
  Result<void> release_held() {
    const std::uint64_t eof = *eof_offset_;
    SW_CHECK(flush());  // everything before the held sections
    // QEMU writes EOF and the trailer in one go; a source without a trailer
    // (suppress-vmdesc) sends nothing more until the destination answers.
    std::uint64_t end = eof + 1;
    SW_TRY(has_next, fill_to(eof + 2, true));
    if (has_next && pending(eof + 1, eof + 2)[0] == static_cast<std::uint8_t>(qemu::RecordType::vmdescription)) {
      SW_TRY(has_len, fill_to(eof + 6, false));
      if (!has_len)
        return fail(Errc::truncated, fmt::format("the source closed the connection after {} bytes, in the description trailer at offset {}", src_.bytes_read(), eof + 1));
      ByteSpan l = pending(eof + 2, eof + 6);
      const std::uint32_t len = (std::uint32_t(l[0]) << 24) | (std::uint32_t(l[1]) << 16) |
                                (std::uint32_t(l[2]) << 8) | l[3];
      if (len > (64u << 20))
        return fail(Errc::limit_exceeded,
                    fmt::format("description trailer of {} bytes at offset {}, more than 64 MiB", len, eof + 1));
      SW_TRY(all, fill_to(eof + 6 + len, false));
      if (!all)
        return fail(Errc::truncated, fmt::format("the source closed the connection after {} bytes, in the description trailer at offset {}", src_.bytes_read(), eof + 1));
      end = eof + 6 + len;
      res_.trailer = true;
      mark(res_.timeline.trailer);
    }
    const std::uint64_t from = hold_from_ ? *hold_from_ : eof;
    if (hold_from_) res_.held_bytes = end - from;
    const auto t0 = Clock::now();
    HeldInput in;
    in.header = header();
    in.sections = pending(from, eof);
    in.tail = pending(eof, end);
    std::optional<Bytes> out;
    if (holding_needed_) {
      SW_TRY(o, rewrite_held(in, opt_, res_));
      out = std::move(o);
    } else if (res_.trailer && !res_.rewritten.empty()) {
      SW_TRY(o, rename_in_trailer(in.tail, opt_.renames));
      out = std::move(o);
    }
    res_.transform_seconds = since(t0);
    if (out) splices_.push_back(Splice{from, end, std::move(*out)});
    limit_ = end;
    SW_CHECK(flush());
    if (hold_start_) res_.held_seconds = since(*hold_start_);
    return {};
  }

  // The stream's first 8 bytes ("QEVM", version), copied when first kept.
  Bytes header() const { return header_; }

  // The first time an event happens, in seconds from the start.
  void mark(double& at) const {
    if (at < 0) at = since(start_);
  }

  void progress(bool final) {
    if (!opt_.progress) return;
    const auto now = Clock::now();
    if (!final && now - last_progress_ < opt_.progress_interval) return;
    last_progress_ = now;
    ProxyProgress p;
    p.bytes_in = src_.bytes_read();
    p.bytes_out = dst_.bytes_written();
    p.bytes_back = back_.load();
    p.seconds = since(start_);
    p.sections_rewritten = rewritten();
    p.final = final;
    opt_.progress(p);
  }

  Channel& src_;
  Channel& dst_;
  const ProxyOptions& opt_;
  ProxyResult& res_;
  std::atomic<std::uint64_t>& back_;
  std::atomic<bool>& opened_;
  std::atomic<bool>& sent_;  // the destination has the stream up to its EOF
  bool rewriting_ = false;        // records are classified before they go out
  bool holding_needed_ = false;  // device sections wait for the trailer

  Bytes pending_;
  std::size_t pos_ = 0;     // bytes of pending_ already forwarded and droppable
  std::uint64_t base_ = 0;  // input offset of pending_[0]
  std::uint64_t out_ = 0;   // input offset forwarded (or spliced) so far
  std::uint64_t limit_ = 0; // input before this offset may be forwarded
  std::vector<Splice> splices_;
  Bytes header_;

  bool config_checked_ = false;  // the first 13 bytes seen (configuration spliced if asked)
  bool past_config_ = false;     // the reader has classified a record after it
  bool holding_ = false;
  std::optional<std::uint64_t> hold_from_, eof_offset_;
  std::optional<Clock::time_point> hold_start_;
  Clock::time_point start_, last_progress_;
};

}  // namespace

ProxyResult run_proxy(Channel& source, Channel& destination, const ProxyOptions& opt) {
  ProxyResult res;
  const auto t0 = Clock::now();
  source.set_timeout(opt.idle_timeout);
  destination.set_timeout(opt.idle_timeout);
  if (opt.source_back) opt.source_back->set_timeout(opt.idle_timeout);
  if (opt.destination_back) opt.destination_back->set_timeout(opt.idle_timeout);
  if (opt.socket_buffer > 0) {
    // The proxy's own socket buffers are bytes in flight a direct migration
    // does not have: they let the source count bytes as sent that the
    // destination has yet to load, and its switch to the stopped phase
    // (remaining RAM below bandwidth x downtime-limit) comes with more
    // left than it estimates. Small buffers keep what is in flight near a
    // direct connection's (docs/proxy.md). Pipes ignore this (harmless).
    const int b = opt.socket_buffer;
    if (source.fd() >= 0) (void)::setsockopt(source.fd(), SOL_SOCKET, SO_RCVBUF, &b, sizeof b);
    if (destination.fd() >= 0)
      (void)::setsockopt(destination.fd(), SOL_SOCKET, SO_SNDBUF, &b, sizeof b);
  }

  std::atomic<std::uint64_t> back{0};
  std::atomic<bool> forward_done{false}, opened{false}, stopping{false};
  Channel& rp_from = opt.destination_back ? *opt.destination_back : destination;
  Channel& rp_to = opt.source_back ? *opt.source_back : source;
  ReturnPath rp(rp_from, rp_to, back, forward_done, opened, stopping, opt.idle_timeout);
  // Cuts every channel: the source learns a failure from whichever it reads.
  auto abort_all = [&] {
    destination.abort();
    source.abort();
    if (opt.source_back) opt.source_back->abort();
    if (opt.destination_back) opt.destination_back->abort();
  };
  std::thread rp_thread;
  if (opt.return_path) rp_thread = std::thread([&] { rp.run(); });

  // Multifd channels: passed through on their own threads; one failing
  // fails the migration (the main channels are cut, so the source learns).
  ExtraChannels extra(opt, stopping, [&] {
    stopping = true;
    abort_all();
  });
  extra.start();

  Forwarder fwd(source, destination, opt, res, back, opened, forward_done, t0);
  auto r = fwd.run();
  if (r) {
    forward_done = true;
    // The destination reads the end of the stream; its answer may still come.
    (void)destination.shutdown_write();
  } else {
    // Neither side may go on: the destination gets a cut stream (never a
    // section the proxy could not make acceptable), the source a closed
    // connection, which fails its migration and keeps its guest running.
    stopping = true;
    abort_all();
  }
  if (rp_thread.joinable()) rp_thread.join();
  extra.finish(r.has_value() && !stopping.load());
  res.extra_channels = extra.channels();
  res.extra_bytes = extra.bytes();
  const ReturnPathOutcome out = rp.outcome();
  res.destination_shut = out.shut;
  if (out.shut_at)
    res.timeline.answer = std::chrono::duration<double>(*out.shut_at - t0).count();
  res.return_path = opened.load() || out.shut.has_value();
  res.bytes_back = back.load();
  res.bytes_in = source.bytes_read() + extra.bytes_in();
  res.bytes_out = destination.bytes_written() + extra.bytes_out();
  const std::string extra_error = extra.error();
  if (!extra_error.empty()) {
    res.ok = false;
    res.reason = extra_error;
  } else if (!r) {
    res.ok = false;
    // When the destination went away first, that is the reason; the
    // forward direction's error only says the channel was closed under it.
    res.reason = out.error.empty() ? r.error().to_string()
                                   : out.error + " (" + r.error().to_string() + ")";
  } else if (!out.error.empty()) {
    res.ok = false;
    res.reason = out.error;
  } else if (out.shut && *out.shut != 0) {
    res.ok = false;
    res.reason = fmt::format("the destination could not load the state (return path: SHUT {})", *out.shut);
  } else {
    res.ok = true;
  }
  source.close();
  destination.close();
  if (opt.source_back) opt.source_back->close();
  if (opt.destination_back) opt.destination_back->close();
  res.seconds = since(t0);
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0)
    res.cpu_seconds = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                      double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  return res;
}

}  // namespace statewire
