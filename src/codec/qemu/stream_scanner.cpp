// Walks a QEMU migration stream record by record and hands each piece to a
// QemuStreamVisitor (layout in include/statewire/qemu_stream.hpp).
//
// Where a device section ends is decided before its body is decoded, from
// (1) the trailer entry's recorded sizes, else (2) the section footer
// (0x7E + be32 section_id, confirmed by a plausible record after it). Then the
// schema sources are tried in the caller's order, each on exactly those bytes;
// the first that explains every byte (and re-encodes to them) wins, else the
// body is kept opaque. Without footers and trailer, a schema's own decode
// decides the end, and with no schema at all the scan fails: we never guess.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <set>

#include <string.h>  // memrchr

#include "codec/qemu/configuration.hpp"
#include "core/stream_window.hpp"
#include "codec/qemu/trailer.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_virtio.hpp"

// Assigns a Result's value to an existing variable, or returns its error.
#define SW_TRY_ASSIGN(lhs, expr)                                         \
  do {                                                                   \
    auto sw_assign_r_ = (expr);                                          \
    if (!sw_assign_r_) return ::statewire::Unexpected(std::move(sw_assign_r_.error())); \
    lhs = std::move(*sw_assign_r_);                                      \
  } while (0)

namespace statewire::qemu {

std::string_view schema_source_name(SchemaSource s) noexcept {
  switch (s) {
    case SchemaSource::trailer: return "trailer";
    case SchemaSource::dump: return "dump";
    case SchemaSource::registered: return "registered";
    case SchemaSource::ram: return "ram";
    case SchemaSource::opaque: return "opaque";
  }
  return "?";
}

namespace {

using detail::Trailer;
using detail::TrailerDevice;

std::string_view kind_label(SectionKind k) {
  switch (k) {
    case SectionKind::full: return "FULL";
    case SectionKind::start: return "START";
    case SectionKind::part: return "PART";
    case SectionKind::end: return "END";
  }
  return "?";
}

// Describes where an error happened: the section label and the field read.
template <class T>
Result<T> ctx(Result<T> r, std::string_view section, std::string_view field) {
  if (!r) {
    r.error().in_field(field);
    r.error().in_section(section);
  }
  return r;
}

Unexpected fail_at(Errc code, std::uint64_t offset, std::string_view section,
                   std::string_view field, std::string message) {
  Error e = make_error(code, std::move(message));
  e.offset = offset;
  e.section = std::string(section);
  e.field_path = std::string(field);
  return Unexpected(std::move(e));
}

struct LiveSection {
  std::string idstr;
  std::uint32_t instance_id = 0;
  std::uint32_t version_id = 0;
};

// The longest record start plausible_record() looks at: type, section id,
// idstr length, idstr, instance and version.
constexpr std::size_t kRecordProbe = 1 + 4 + 1 + 255 + 8;

}  // namespace

// One pass over the stream through a bounded window. Absolute offsets are
// used throughout; at(p) reads a byte the caller made visible with see().
class QemuStreamReader::Impl {
 public:
  Impl(ByteSource& src, const QemuDecodeOptions& opt)
      : src_(src), opt_(opt), win_(src, opt.max_buffer), own_budget_(opt.limits),
        budget_(opt.budget ? *opt.budget : own_budget_) {
    body_opt_.limits = opt.limits;
    body_opt_.budget = &budget_;
    if (opt.custom_infos) body_opt_.custom = &custom_decoders();
  }

  Result<bool> step(QemuStreamVisitor& v) {
    v_ = &v;
    grant_to(win_.offset());
    switch (phase_) {
      case Phase::header: SW_CHECK(header()); phase_ = Phase::records; return true;
      case Phase::records: return record();
      case Phase::ram: SW_CHECK(ram_step()); return true;
      case Phase::done: return false;
    }
    return false;
  }

  // step() to the end; RAM records in a tight loop (they are most records).
  Result<void> run(QemuStreamVisitor& v) {
    v_ = &v;
    while (true) {
      if (phase_ == Phase::ram) {
        grant_to(win_.offset());
        SW_CHECK(ram_step());
        continue;
      }
      SW_TRY(more, step(v));
      if (!more) return {};
    }
  }

  std::uint64_t offset() const { return win_.offset(); }
  std::uint64_t seen() const { return win_.visible_end(); }
  std::size_t high_water() const { return win_.high_water(); }

 private:
  enum class Phase { header, records, ram, done };

  // --- the window -----------------------------------------------------------

  // Grants our own budget the input up to `off` (a caller's budget was
  // granted by the caller).
  void grant_to(std::uint64_t off) {
    if (&budget_ != &own_budget_ || off <= granted_) return;
    own_budget_.grant_input(off - granted_);
    granted_ = off;
  }

  // Makes [offset(), end) visible if the input and the bound allow; true if it is.
  Result<bool> see(std::uint64_t end) {
    if (end <= win_.visible_end()) return true;
    return win_.probe(static_cast<std::size_t>(end - win_.offset()));
  }
  std::uint8_t at(std::uint64_t p) const { return win_.view()[p - win_.offset()]; }
  std::uint32_t be32(std::uint64_t p) const {
    return std::uint32_t(at(p)) << 24 | std::uint32_t(at(p + 1)) << 16 |
           std::uint32_t(at(p + 2)) << 8 | std::uint32_t(at(p + 3));
  }
  // Bytes [from, to) of the input, which must be visible.
  ByteSpan span(std::uint64_t from, std::uint64_t to) const {
    return win_.view().subspan(from - win_.offset(), to - from);
  }
  // n more bytes, or the input ended (a cursor then reports the short read).
  Result<void> want(std::size_t n, std::string_view section, std::string_view field) {
    auto r = win_.want(n);
    if (!r) {
      r.error().offset = win_.offset();
      return ctx(std::move(r), section, field);
    }
    return {};
  }
  // Runs `read` on a cursor over what is visible and moves past what it read.
  template <class F>
  auto parse(F&& read) {
    Cursor c = win_.cursor();
    auto r = read(c);
    if (r) win_.consume(c.position());
    return r;
  }

  // --- stream header and trailer --------------------------------------------

  Result<void> header() {
    SW_CHECK(want(8, "stream header", "magic"));
    SW_TRY(magic, parse([](Cursor& c) { return ctx(c.read_be32(), "stream header", "magic"); }));
    if (magic != kFileMagic)
      return fail_at(Errc::bad_magic, 0, "stream header", "magic",
                     fmt::format("expected 0x5145564d (\"QEVM\"), found {:#010x}", magic));
    SW_TRY(version,
           parse([](Cursor& c) { return ctx(c.read_be32(), "stream header", "version"); }));
    if (version != kFileVersion)
      return fail_at(Errc::unsupported, 4, "stream header", "version",
                     fmt::format("expected format version 3, found {}{}", version,
                                 version == 2 ? " (obsolete savevm v2)" : ""));
    if (auto located = locate_trailer_ahead(); !located) {
      if (located.error().code == Errc::io_error) return Unexpected(std::move(located.error()));
      SW_CHECK(trailer_damaged(std::move(located.error())));
    }
    if (trailer_ && trailer_->page_size && std::has_single_bit(trailer_->page_size))
      page_size_ = trailer_->page_size;
    SW_CHECK(v_->on_start(version, trailer_ ? &*trailer_ : nullptr));

    SW_TRY(more, see(win_.offset() + 1));
    if (more && at(win_.offset()) == static_cast<std::uint8_t>(RecordType::configuration)) {
      const std::uint64_t off = win_.offset();
      win_.consume(1);
      // The configuration has no length; it is small (a name and a few
      // subsections), so a fixed lookahead holds it.
      SW_TRY(all, see(win_.offset() + kConfigurationProbe));
      (void)all;
      SW_TRY(conf, parse([](Cursor& c) { return detail::decode_configuration(c); }));
      if (conf.target_page_bits) page_size_ = std::uint64_t(1) << *conf.target_page_bits;
      SW_CHECK(v_->on_configuration(conf.body, off));
    }
    if (page_size_ < 512 || page_size_ > (1u << 30) || !std::has_single_bit(page_size_))
      return fail_at(Errc::invalid_value, 0, "stream header", "page_size",
                     fmt::format("page size {} is not a power of two in 512..1 GiB",
                                 page_size_));
    return {};
  }

  // With the whole input in memory or a file that can be read at an offset,
  // the trailer is read first, as the stream's own description of every
  // device section. From a pipe it is found later, by looking ahead from the
  // first device section to the end of the input (see device_body()).
  Result<void> locate_trailer_ahead() {
    if (auto all = src_.contiguous()) {
      SW_TRY(t, detail::locate_trailer(*all));
      trailer_ = std::move(t);
      return {};
    }
    const auto size = src_.size();
    if (!size) return {};
    // The last 0x06 of the input starts the trailer (JSON holds no raw 0x06);
    // read more of the tail until one is in it.
    for (std::uint64_t len = std::min<std::uint64_t>(*size, 1u << 20);;
         len = std::min<std::uint64_t>(*size, len * 8)) {
      Bytes tail(static_cast<std::size_t>(len));
      SW_TRY(n, src_.read_at(*size - len, tail));
      if (n != len)
        return fail_at(Errc::io_error, *size - len, "vmdescription", "",
                       fmt::format("the input's tail: read {} of {} bytes", n, len));
      if (tail.empty() || tail.back() != '}') return {};
      const void* hit = memrchr(tail.data(), 0x06, tail.size());
      if (hit && hit != tail.data()) {
        const std::size_t p = static_cast<const std::uint8_t*>(hit) - tail.data();
        return adopt_trailer(ByteSpan(tail).subspan(p - 1), *size - len + p - 1);
      }
      if (len == *size || len >= opt_.max_buffer) return {};
    }
  }

  // `bytes` starts at the EOF byte before a possible trailer record at `off`+1.
  Result<void> adopt_trailer(ByteSpan bytes, std::uint64_t off) {
    if (bytes.size() < 6 || bytes[0] != 0x00 || bytes[1] != 0x06) return {};
    const std::uint32_t len = std::uint32_t(bytes[2]) << 24 | std::uint32_t(bytes[3]) << 16 |
                              std::uint32_t(bytes[4]) << 8 | std::uint32_t(bytes[5]);
    if (6 + std::uint64_t(len) != bytes.size()) return {};
    trailer_text_.assign(reinterpret_cast<const char*>(bytes.data() + 6), len);
    SW_TRY(t, detail::parse_trailer(trailer_text_, off + 1));
    trailer_ = std::move(t);
    return {};
  }

  // From a pipe: device sections come last in a QEMU stream, just before the
  // trailer, so looking ahead to the end of the input (within the bound)
  // finds the trailer before the device sections are decoded, as from a file.
  Result<void> probe_trailer() {
    if (trailer_ || trailer_probe_failed_ || src_.contiguous() || src_.size()) return {};
    SW_TRY(all, see(win_.offset() + opt_.max_buffer));
    (void)all;
    if (!win_.at_end()) return {};  // beyond the bound: decode without it
    trailer_probe_failed_ = true;   // the whole rest is in view: one look is enough
    ByteSpan rest = win_.view();
    if (rest.empty() || rest.back() != '}') return {};
    const void* hit = memrchr(rest.data(), 0x06, rest.size());
    if (!hit || hit == rest.data()) return {};
    const std::size_t p = static_cast<const std::uint8_t*>(hit) - rest.data();
    if (auto adopted = adopt_trailer(rest.subspan(p - 1), win_.offset() + p - 1); !adopted)
      SW_CHECK(trailer_damaged(std::move(adopted.error())));
    if (trailer_) SW_CHECK(v_->on_description(*trailer_));
    return {};
  }

  // --- records ----------------------------------------------------------------

  Result<bool> record() {
    const std::uint64_t off = win_.offset();
    SW_CHECK(want(1, "stream", "record type"));
    SW_TRY(type, parse([](Cursor& c) { return ctx(c.read_u8(), "stream", "record type"); }));
    switch (static_cast<RecordType>(type)) {
      case RecordType::eof:
        SW_CHECK(v_->on_eof(off));
        SW_CHECK(after_eof());
        phase_ = Phase::done;
        return false;
      case RecordType::section_start:
      case RecordType::section_full:
      case RecordType::section_part:
      case RecordType::section_end:
        SW_CHECK(section(type, off));
        return true;
      case RecordType::command:
        SW_CHECK(command(off));
        return true;
      default:
        return fail_at(Errc::invalid_value, off, "stream", "record type",
                       fmt::format("expected a section (0x01-0x04), command (0x08) or EOF "
                                   "(0x00), found {:#04x}",
                                   type));
    }
  }

  Result<void> after_eof() {
    SW_TRY(more, see(win_.offset() + 1));
    if (!more) return {};
    const std::uint64_t off = win_.offset();
    SW_CHECK(want(5, "vmdescription", "json_len"));
    SW_TRY(type,
           parse([](Cursor& c) { return ctx(c.read_u8(), "vmdescription", "record type"); }));
    if (type != static_cast<std::uint8_t>(RecordType::vmdescription))
      return fail_at(Errc::invalid_value, off, "vmdescription", "record type",
                     fmt::format("expected the description trailer (0x06) or the end after EOF, "
                                 "found {:#04x}",
                                 type));
    SW_TRY(len, parse([](Cursor& c) { return ctx(c.read_be32(), "vmdescription", "json_len"); }));
    SW_CHECK(want(len, "vmdescription", "json"));
    SW_TRY(json, parse([&](Cursor& c) { return ctx(c.read_bytes(len), "vmdescription", "json"); }));
    SW_TRY(extra, see(win_.offset() + 1));
    if (extra) {
      (void)see(win_.offset() + opt_.max_buffer);
      return fail_at(Errc::invalid_value, win_.offset(), "vmdescription", "json",
                     fmt::format("{}{} bytes after the description trailer, expected the end",
                                 win_.at_end() ? "" : "at least ", win_.view().size()));
    }
    std::string_view text(reinterpret_cast<const char*>(json.data()), json.size());
    if (!trailer_damage_reported_ && (!trailer_ || trailer_->offset != off)) {
      // A trailer found ahead has been parsed; anything else (not ending in
      // '}', or never looked for) is parsed here to say what is wrong.
      if (auto t = detail::parse_trailer(text, off); !t) SW_CHECK(trailer_damaged(t.error()));
    }
    return v_->on_trailer(text, off);
  }

  // QEMU reads the trailer's bytes and ignores them, so a damaged one costs
  // only the schema it would have given: say so and use the other sources.
  // Hostile input beyond a limit (nesting that would exhaust the parser's
  // stack) is refused, not ignored.
  Result<void> trailer_damaged(Error e) {
    if (e.code == Errc::limit_exceeded) return fail(std::move(e));
    trailer_damage_reported_ = true;
    e.message += "; the trailer is ignored, device sections use the other schema sources";
    return v_->on_warning(e);
  }

  Result<void> command(std::uint64_t off) {
    SW_CHECK(want(4, "command", "cmd"));
    SW_TRY(cmd, parse([](Cursor& c) { return ctx(c.read_be16(), "command", "cmd"); }));
    SW_TRY(len, parse([](Cursor& c) { return ctx(c.read_be16(), "command", "len"); }));
    // MIG_CMD_PACKAGED (7) wraps a nested stream that follows the record:
    // postcopy only, never in a file written by `migrate`.
    if (cmd == 0 || cmd > 11)
      return fail_at(Errc::invalid_value, off + 1, "command", "cmd",
                     fmt::format("expected a MIG_CMD value 1..11, found {}", cmd));
    if (cmd == 7)
      return fail_at(Errc::unsupported, off + 1, "command", "cmd",
                     fmt::format("not supported: packaged command (postcopy) at offset {}", off));
    SW_CHECK(want(len, "command", "data"));
    SW_TRY(data, parse([&](Cursor& c) { return ctx(c.read_bytes(len), "command", "data"); }));
    return v_->on_command(cmd, data, off);
  }

  Result<void> section(std::uint8_t type, std::uint64_t off) {
    SectionHeader h;
    h.offset = off;
    h.kind = type == 0x01   ? SectionKind::start
             : type == 0x02 ? SectionKind::part
             : type == 0x03 ? SectionKind::end
                            : SectionKind::full;
    std::string where = fmt::format("{} section", kind_label(h.kind));
    SW_CHECK(want(5, where, "section_id"));
    SW_TRY(id, parse([&](Cursor& c) { return ctx(c.read_be32(), where, "section_id"); }));
    h.section_id = id;
    if (h.kind == SectionKind::start || h.kind == SectionKind::full) {
      where = fmt::format("{} section {}", kind_label(h.kind), id);
      SW_CHECK(want(1, where, "idstr"));
      SW_CHECK(want(1 + std::size_t(win_.view().empty() ? 0 : win_.view()[0]) + 8, where, "idstr"));
      SW_TRY(idstr, parse([&](Cursor& c) { return ctx(c.read_counted_string(), where, "idstr"); }));
      h.idstr = std::move(idstr);
      where = fmt::format("{} (section {})", h.idstr, id);
      SW_TRY(inst, parse([&](Cursor& c) { return ctx(c.read_be32(), where, "instance_id"); }));
      SW_TRY(ver, parse([&](Cursor& c) { return ctx(c.read_be32(), where, "version_id"); }));
      h.instance_id = inst;
      h.version_id = ver;
      live_[id] = LiveSection{h.idstr, inst, ver};
    } else {
      auto it = live_.find(id);
      if (it == live_.end())
        return fail_at(Errc::unknown_section, off + 1, where, "section_id",
                       fmt::format("{} of section id {}, which no START opened", kind_label(h.kind),
                                   id));
      h.idstr = it->second.idstr;
      h.instance_id = it->second.instance_id;
      h.version_id = it->second.version_id;
    }
    h.body_offset = win_.offset();
    SW_CHECK(v_->on_section_begin(h));

    SectionSummary sum;
    sum.header = h;
    std::string label = fmt::format("{}/{}", h.idstr, h.instance_id);
    if (h.idstr == "ram" && h.instance_id == 0) {
      if (h.version_id != 4)
        return fail_at(Errc::unsupported, h.body_offset - 4, label, "version_id",
                       fmt::format("expected RAM section version 4, found {}", h.version_id));
      sum.source = SchemaSource::ram;
      ram_sum_ = std::move(sum);
      ram_label_ = std::move(label);
      phase_ = Phase::ram;
      return {};
    }
    SW_CHECK(device_body(h, label, sum));
    return finish_section(sum, label);
  }

  Result<void> finish_section(SectionSummary& sum, const std::string& label) {
    sum.body_size = win_.offset() - sum.header.body_offset;
    SW_CHECK(footer(sum.header, label, sum));
    return v_->on_section_end(sum);
  }

  Result<bool> footer_at(std::uint64_t p, std::uint32_t id) {
    SW_TRY(visible, see(p + 5));
    return visible && at(p) == 0x7E && be32(p + 1) == id;
  }

  Result<void> footer(const SectionHeader& h, const std::string& label, SectionSummary& sum) {
    const std::uint64_t p = win_.offset();
    if (!footers_) {
      SW_TRY(there, footer_at(p, h.section_id));
      footers_ = there;
    }
    if (!*footers_) return {};
    SW_CHECK(want(5, label, "footer"));
    SW_TRY(marker, parse([&](Cursor& c) { return ctx(c.read_u8(), label, "footer"); }));
    if (marker != 0x7E)
      return fail_at(Errc::mismatch, p, label, "footer",
                     fmt::format("expected the section footer 0x7e, found {:#04x}", marker));
    SW_TRY(fid, parse([&](Cursor& c) { return ctx(c.read_be32(), label, "footer.section_id"); }));
    if (fid != h.section_id)
      return fail_at(Errc::mismatch, p + 1, label, "footer.section_id",
                     fmt::format("expected section id {}, found {}", h.section_id, fid));
    sum.footer = true;
    return {};
  }

  // Could a record start at p? Used to confirm a footer or a schema's end.
  Result<bool> plausible_record(std::uint64_t p) {
    SW_TRY(any, see(p + 1));
    if (!any) return false;
    SW_TRY(full, see(p + kRecordProbe));
    (void)full;
    const std::uint64_t n = win_.visible_end();
    switch (at(p)) {
      case 0x00: return (p + 1 == n && win_.at_end()) || (p + 1 < n && at(p + 1) == 0x06);
      case 0x01:
      case 0x04: {
        if (p + 6 > n) return false;
        std::size_t len = at(p + 5);
        if (len == 0 || p + 6 + len + 8 > n) return false;
        for (std::size_t i = 0; i < len; ++i)
          if (at(p + 6 + i) < 0x20 || at(p + 6 + i) > 0x7e) return false;
        return true;
      }
      case 0x02:
      case 0x03: return p + 5 <= n && live_.count(be32(p + 1)) != 0;
      case 0x08: {
        if (p + 5 > n) return false;
        unsigned cmd = unsigned(at(p + 1)) << 8 | at(p + 2);
        return cmd >= 1 && cmd <= 11;
      }
      default: return false;
    }
  }

  // Does the input end inside a record header starting at p (or right at p)?
  bool cut_record(std::uint64_t p) const {
    if (!win_.at_end()) return false;
    const std::uint64_t n = win_.visible_end();
    if (p >= n) return p == n;
    switch (at(p)) {
      case 0x01:
      case 0x04: return p + 6 > n || p + 6 + at(p + 5) + 8 > n;
      case 0x02:
      case 0x03:
      case 0x08: return p + 5 > n;
      default: return false;
    }
  }

  // The first footer of section `id` at or after `from` that a record
  // follows, pulling more input as the search needs it (within the bound).
  Result<std::optional<std::uint64_t>> scan_footer(std::uint64_t from, std::uint32_t id) {
    std::uint64_t p = from;
    while (true) {
      const std::uint64_t n = win_.visible_end();
      if (p < n) {
        const std::uint8_t* base = win_.view().data() - win_.offset();
        const void* hit = std::memchr(base + p, 0x7E, n - p);
        if (hit) {
          const std::uint64_t q = static_cast<const std::uint8_t*>(hit) - base;
          SW_TRY(is_footer, footer_at(q, id));
          if (is_footer) {
            // In a cut stream, a footer followed by a record the cut runs
            // through still ends its section: the section is reported, and
            // the next read says where the input stops.
            SW_TRY(follows, plausible_record(q + 5));
            if (follows || cut_record(q + 5)) return std::optional<std::uint64_t>(q);
          }
          p = q + 1;
          continue;
        }
        p = n;
      }
      if (win_.at_end() || n - win_.offset() >= opt_.max_buffer) return std::optional<std::uint64_t>();
      // Twice what is in view, so a long section costs few passes.
      SW_TRY(more, see(std::min<std::uint64_t>(win_.offset() + opt_.max_buffer,
                                               win_.offset() + 2 * (n - win_.offset()) + 4096)));
      (void)more;
    }
  }

  const Description* find_dump(const std::string& idstr) const {
    if (!opt_.dump) return nullptr;
    // idstr is "<qdev path>/<vmsd name>" or the vmsd name alone.
    for (std::size_t p = 0;;) {
      if (const Description* d = opt_.dump->find_description(std::string_view(idstr).substr(p)))
        return d;
      std::size_t slash = idstr.find('/', p);
      if (slash == std::string::npos) return nullptr;
      p = slash + 1;
    }
  }

  const Description* find_registered(const std::string& idstr) const {
    for (std::size_t p = 0;;) {
      std::string_view tail = std::string_view(idstr).substr(p);
      for (const auto& d : opt_.registered)
        if (d && d->name == tail) return d.get();
      std::size_t slash = idstr.find('/', p);
      if (slash == std::string::npos) return nullptr;
      p = slash + 1;
    }
  }

  struct Attempt {
    Struct body;
    std::uint64_t end = 0;
    std::uint64_t charged = 0;  // to the budget, given back if the reading is dropped
  };

  // Decodes the body with `d`; with `end` known it must explain exactly those
  // bytes, else everything in view is offered. Failures go to `why` (the
  // caller reports them if nothing works).
  Result<std::optional<Attempt>> try_decode(const Description& d, const SectionHeader& h,
                                            std::optional<std::uint64_t> end, std::string& why,
                                            const BodyDecodeOptions* with = nullptr) {
    const std::uint64_t stop = end ? *end : win_.visible_end();
    Cursor c(span(h.body_offset, stop), h.body_offset);
    // The budget follows the bytes consumed; a body of known length is read
    // now, so its bytes count.
    grant_to(end ? *end : h.body_offset);
    // A reading that is not kept gives back what it charged.
    struct Refund {
      Budget& b;
      std::uint64_t before;
      bool keep = false;
      ~Refund() { if (!keep) b.refund(b.used() - before); }
    } refund{budget_, budget_.used()};
    BodyDecodeOptions o = with ? *with : body_opt_;
    o.section = h.idstr;
    auto r = decode_body(d, c, h.version_id, o);
    if (!r) {
      why = r.error().to_string();
      return std::optional<Attempt>();
    }
    if (end && !c.empty()) {
      why = fmt::format("it explains {} of the {} body bytes", c.offset() - h.body_offset,
                        *end - h.body_offset);
      return std::optional<Attempt>();
    }
    if (!end) {
      const std::uint64_t e = c.offset();
      bool follows = false;
      if (footers_.value_or(false)) {
        SW_TRY(f, footer_at(e, h.section_id));
        follows = f;
      } else {
        SW_TRY(f, plausible_record(e));
        follows = f;
      }
      if (!follows) {
        why = fmt::format("no record follows where it ends ({:#x})", e);
        return std::optional<Attempt>();
      }
    }
    const std::size_t n = c.offset() - h.body_offset;
    if (opt_.verify_reencode) {
      ByteWriter w;
      auto enc = encode_body(*r, w);
      // An empty body leaves the writer without storage: memcmp from null is
      // undefined even for 0 bytes (UBSan, preset asan).
      if (!enc || w.size() != n ||
          (n && std::memcmp(w.bytes().data(), span(h.body_offset, h.body_offset + n).data(), n) != 0)) {
        why = "the decoded tree does not re-encode to the same bytes";
        return std::optional<Attempt>();
      }
    }
    refund.keep = true;
    return std::optional<Attempt>(
        Attempt{std::move(*r), h.body_offset + n, budget_.used() - refund.before});
  }

  // A dump says only *that* a field has a test, not what it decides. With the
  // footer fixing the length, the outcomes of the first kMaxDumpTests tests
  // are enumerated: exactly one reading that explains every byte (and
  // re-encodes to them) is accepted; several are ambiguous, none a failure.
  Result<std::optional<Attempt>> try_decode_dump(const Description& d, const SectionHeader& h,
                                                 std::uint64_t end, std::string& why) {
    constexpr unsigned kMaxDumpTests = 6;
    unsigned mask = 0, calls = 0;
    TestResolver tests;
    tests[""] = [&](const Struct&, std::uint32_t) -> std::optional<bool> {
      const unsigned i = calls++;
      if (i >= kMaxDumpTests) return std::nullopt;
      return ((mask >> i) & 1) != 0;
    };
    BodyDecodeOptions o = body_opt_;
    o.tests = &tests;
    std::optional<Attempt> found;
    std::set<std::pair<unsigned, unsigned>> seen;
    int matches = 0;
    std::string first_why;
    for (mask = 0; mask < (1u << kMaxDumpTests); ++mask) {
      calls = 0;
      std::string w;
      SW_TRY(a, try_decode(d, h, end, w, &o));
      const unsigned used = std::min(calls, kMaxDumpTests);
      if (mask == 0) first_why = w;
      // Masks that differ only in bits no test asked for give the same reading.
      if (!seen.insert({used, mask & ((1u << used) - 1)}).second) continue;
      if (a) {
        ++matches;
        if (!found)
          found = std::move(a);
        else
          budget_.refund(a->charged);
      }
      if (calls == 0) break;  // no test-gated field: one reading
    }
    if (matches == 1) return found;
    if (found) budget_.refund(found->charged);
    why = matches ? fmt::format("{} readings of its test-gated fields explain the bytes", matches)
                  : first_why;
    return std::optional<Attempt>();
  }

  Result<void> device_body(const SectionHeader& h, const std::string& label,
                           SectionSummary& sum) {
    if (h.kind == SectionKind::full &&
        ((opt_.decode_devices && std::find(opt_.schema_order.begin(), opt_.schema_order.end(),
                                           SchemaSource::trailer) != opt_.schema_order.end()) ||
         footers_ == false))
      SW_CHECK(probe_trailer());
    const TrailerDevice* td = trailer_ ? trailer_->find(h.idstr, h.instance_id) : nullptr;
    std::optional<std::uint64_t> end;
    std::string notes;
    bool td_fits = false;
    if (td) {
      SW_TRY(visible, see(h.body_offset + td->body_size));
      td_fits = visible;
    }
    if (td && h.kind == SectionKind::full) {
      const std::uint64_t e = h.body_offset + td->body_size;
      // The trailer's sizes are what QEMU wrote; with footers on, the footer must be there.
      bool ok = false;
      if (td_fits) {
        if (footers_) {
          if (*footers_) {
            SW_TRY(f, footer_at(e, h.section_id));
            ok = f;
          } else {
            SW_TRY(f, plausible_record(e));
            ok = f;
          }
        } else {
          SW_TRY(f, footer_at(e, h.section_id));
          ok = f;
          if (!ok) {
            SW_TRY(g, plausible_record(e));
            ok = g;
          }
        }
      }
      if (ok) end = e;
      else
        notes = "the trailer's sizes do not end at a record; ";
    }
    if (!end && footers_ != false) SW_TRY_ASSIGN(end, scan_footer(h.body_offset, h.section_id));
    if (!end && td_fits && h.kind == SectionKind::full) {
      // Neither a footer where the trailer says nor anywhere later: take the
      // trailer's word, so the footer check names the exact bad bytes.
      end = h.body_offset + td->body_size;
    }
    if (!end) {
      // Only a schema's own decode can tell where the body ends: offer it
      // everything the bound allows.
      SW_TRY(all, see(h.body_offset + opt_.max_buffer));
      (void)all;
    }

    const Description* used = nullptr;
    std::optional<Attempt> got;
    for (SchemaSource src : opt_.schema_order) {
      if (!opt_.decode_devices) break;
      const Description* d = nullptr;
      switch (src) {
        case SchemaSource::trailer:
          if (td && h.kind == SectionKind::full) d = td->description.get();
          break;
        case SchemaSource::dump:
          // A dump has sizes but no counts or types: only a length the footer
          // confirms makes its reading trustworthy.
          if (end && (footers_ != false)) d = find_dump(h.idstr);
          break;
        case SchemaSource::registered: d = find_registered(h.idstr); break;
        default: break;
      }
      if (!d) continue;
      std::string why;
      std::string kept;  // a custom field's decoder refused: why it stays bytes
      if (src == SchemaSource::dump) {
        SW_TRY_ASSIGN(got, try_decode_dump(*d, h, *end, why));
      } else {
        SW_TRY_ASSIGN(got, try_decode(*d, h, end, why));
        if (!got && body_opt_.custom && end) {
          // Again with custom fields as bytes (their size in a trailer is exact).
          BodyDecodeOptions plain = body_opt_;
          plain.custom = nullptr;
          std::string why2;
          SW_TRY_ASSIGN(got, try_decode(*d, h, end, why2, &plain));
          if (got) kept = std::move(why);
        }
      }
      if (got) {
        sum.source = src;
        sum.note = fmt::format("{} '{}' v{}", schema_source_name(src), d->name, d->version_id);
        sum.kept_as_bytes = std::move(kept);
        used = d;
        break;
      }
      notes += fmt::format("{} '{}': {}; ", schema_source_name(src), d->name, why);
    }
    if (!got) {
      if (!end && footers_ != false)
        return fail_at(Errc::truncated, h.body_offset, label, "footer",
                       fmt::format("{}no section footer (7e {:08x}) before the end of the input{}",
                                   notes, h.section_id,
                                   win_.at_end() ? ""
                                                 : fmt::format(" or within the reader's bound of "
                                                               "{} bytes",
                                                               opt_.max_buffer)));
      if (!end)
        return fail_at(Errc::unsupported, h.body_offset, label, "",
                       fmt::format("cannot tell where the section ends: {}no footer, no trailer "
                                   "entry, and no schema explains it",
                                   notes));
      Attempt a;
      a.end = *end;
      auto raw = span(h.body_offset, *end);
      grant_to(*end);
      SW_CHECK(ctx(budget_.charge(raw.size() + member_cost(0), h.body_offset, "an opaque body"),
                   label, ""));
      a.body.members.push_back(
          {std::string(keys::kOpaque), Value(Blob{std::vector<std::uint8_t>(raw.begin(), raw.end())})});
      got = std::move(a);
      sum.source = SchemaSource::opaque;
      if (notes.size() >= 2) notes.resize(notes.size() - 2);
      sum.note = notes.empty() ? std::string(opt_.decode_devices ? "no schema for this section"
                                                                 : "not decoded")
                               : notes;
    }
    ByteSpan raw = span(h.body_offset, got->end);
    win_.consume(raw.size());
    return v_->on_device_body(h, std::move(got->body), raw, sum.source, used);
  }

  // --- RAM ----------------------------------------------------------------------

  // One RAM record. The current block survives across sections (QEMU resets
  // it only at setup), so CONTINUE may open a PART.
  Result<void> ram_step() {
    const std::string& label = ram_label_;
    const std::uint64_t mask = page_size_ - 1;
    RamRecord rec;
    rec.stream_offset = win_.offset();
    rec.page_size = page_size_;
    // When the longest record fits what is in view (always, from memory),
    // one cursor reads it; else exactly its bytes are asked for, piece by piece.
    const bool in_view = win_.at_end() || win_.view().size() >= 8 + 256 + page_size_;
    if (!in_view) SW_CHECK(want(8, label, "page header"));
    Cursor cur = win_.cursor();
    SW_TRY(word, ctx(cur.read_be64(), label, "page header"));
    rec.flags = static_cast<std::uint16_t>(word & mask);
    rec.addr = word & ~mask;
    const std::uint16_t kind = rec.flags & ~kRamContinue;
    switch (kind) {
      case kRamMemSize:
        win_.consume(8);
        return ram_blocks(label, rec);
      case kRamEos:
        win_.consume(8);
        SW_CHECK(v_->on_ram_record(rec));
        phase_ = Phase::records;
        return finish_section(ram_sum_, label);
      case kRamZero:
      case kRamPage:
        break;
      case kRamXbzrle: return unsupported(label, "xbzrle", rec.stream_offset);
      case kRamCompressPage: return unsupported(label, "compressed page", rec.stream_offset);
      case kRamHook: return unsupported(label, "RDMA hook", rec.stream_offset);
      case kRamMultifdFlush: return unsupported(label, "multifd flush", rec.stream_offset);
      default:
        return fail_at(Errc::invalid_value, rec.stream_offset, label, "page header",
                       fmt::format("unknown combination of RAM flags {:#x} (word {:#018x})",
                                   rec.flags, word));
    }
    // Exactly this record's bytes are asked for: a peer waiting for an
    // answer after it must not leave the reader waiting for more.
    if (!in_view) {
      std::size_t need = 8;
      if (!(rec.flags & kRamContinue)) {
        SW_CHECK(want(9, label, "block name"));
        need = 9 + (win_.view().size() > 8 ? win_.view()[8] : 0);
      }
      SW_CHECK(want(need + (kind == kRamZero ? 1 : page_size_), label,
                    kind == kRamZero ? "fill byte" : "page data"));
      cur = win_.cursor();
      SW_CHECK(cur.skip(8));
    }
    if (!(rec.flags & kRamContinue)) {
      SW_TRY(name, ctx(cur.read_counted_string(), label, "block name"));
      if (name != block_) {
        auto it = std::find_if(blocks_.begin(), blocks_.end(),
                               [&](const RamBlock& b) { return b.id == name; });
        if (it == blocks_.end())
          return fail_at(Errc::not_found, rec.stream_offset + 8, label, "block name",
                         fmt::format("block '{}' is not in the block list", name));
        block_ = name;
        block_len_ = it->used_length;
      }
      have_block_ = true;
      rec.named = true;
    } else if (!have_block_) {
      return fail_at(Errc::invalid_value, rec.stream_offset, label, "page header",
                     "CONTINUE flag with no previous block");
    }
    rec.block = &block_;
    if (rec.addr > block_len_ || block_len_ - rec.addr < page_size_)
      return fail_at(Errc::invalid_value, rec.stream_offset, label, "page header",
                     fmt::format("page offset {:#x} outside block '{}' of {:#x} bytes", rec.addr,
                                 block_, block_len_));
    if (kind == kRamZero) {
      SW_TRY(fill, ctx(cur.read_u8(), label, "fill byte"));
      rec.fill = fill;
      win_.consume(cur.position());
    } else {
      SW_TRY(data, ctx(cur.read_bytes(page_size_), label, "page data"));
      rec.data = data;
      win_.consume(cur.position());
    }
    return v_->on_ram_record(rec);
  }

  Unexpected unsupported(const std::string& label, std::string_view what, std::uint64_t off) {
    return fail_at(Errc::unsupported, off, label, "page header",
                   fmt::format("not supported: {} at offset {}", what, off));
  }

  Result<void> ram_blocks(const std::string& label, const RamRecord& rec) {
    // No count on the wire: blocks follow until their lengths add up to the total.
    std::vector<RamBlock> blocks;
    std::uint64_t sum = 0;
    while (sum < rec.addr) {
      RamBlock b;
      std::string f = fmt::format("blocks[{}]", blocks.size());
      SW_CHECK(want(1, label, f + ".id"));
      SW_CHECK(want(1 + std::size_t(win_.view().empty() ? 0 : win_.view()[0]) + 8 +
                        (opt_.ram_block_page_size ? 8 : 0) + (opt_.ram_ignore_shared ? 8 : 0),
                    label, f + ".id"));
      Cursor cur = win_.cursor();
      SW_TRY(id, ctx(cur.read_counted_string(), label, f + ".id"));
      b.id = std::move(id);
      SW_TRY(len, ctx(cur.read_be64(), label, f + ".used_length"));
      b.used_length = len;
      if (opt_.ram_block_page_size) {
        SW_TRY(ps, ctx(cur.read_be64(), label, f + ".page_size"));
        b.page_size = ps;
      }
      if (opt_.ram_ignore_shared) {
        SW_TRY(gpa, ctx(cur.read_be64(), label, f + ".gpa"));
        b.gpa = gpa;
      }
      win_.consume(cur.position());
      if (len > rec.addr - sum)
        return fail_at(Errc::invalid_value, cur.offset() - 8, label, f + ".used_length",
                       fmt::format("block lengths add up past the total {:#x}", rec.addr));
      sum += len;
      blocks.push_back(std::move(b));
    }
    blocks_ = blocks;
    have_block_ = false;
    block_.clear();
    block_len_ = 0;
    return v_->on_ram_blocks(rec.addr, rec.flags, blocks_);
  }

  // The configuration record has no length of its own; it holds a machine
  // name and a few small subsections.
  static constexpr std::size_t kConfigurationProbe = 64u << 10;

  ByteSource& src_;
  const QemuDecodeOptions opt_;  // a copy: callers may pass a temporary
  statewire::detail::StreamWindow win_;
  QemuStreamVisitor* v_ = nullptr;
  Phase phase_ = Phase::header;
  // The decode's memory budget: the caller's, or one of our own granted the
  // input as the window consumes it (never a size the input claims).
  Budget own_budget_;
  Budget& budget_;
  std::uint64_t granted_ = 0;  // input offset granted to own_budget_ so far
  BodyDecodeOptions body_opt_;
  std::string trailer_text_;  // the trailer's JSON when it was read from a file or pipe
  std::optional<Trailer> trailer_;
  bool trailer_probe_failed_ = false;
  std::optional<bool> footers_;
  std::map<std::uint32_t, LiveSection> live_;
  std::uint64_t page_size_ = 4096;
  std::vector<RamBlock> blocks_;
  std::string block_;
  std::uint64_t block_len_ = 0;
  bool have_block_ = false;
  SectionSummary ram_sum_;  // of the RAM section being read
  std::string ram_label_;
  bool trailer_damage_reported_ = false;
};

QemuStreamReader::QemuStreamReader(ByteSource& source, const QemuDecodeOptions& opt)
    : impl_(std::make_unique<Impl>(source, opt)) {}
QemuStreamReader::~QemuStreamReader() = default;
Result<bool> QemuStreamReader::step(QemuStreamVisitor& visitor) { return impl_->step(visitor); }
Result<void> QemuStreamReader::run(QemuStreamVisitor& visitor) { return impl_->run(visitor); }
std::uint64_t QemuStreamReader::offset() const { return impl_->offset(); }
std::size_t QemuStreamReader::buffer_high_water() const { return impl_->high_water(); }
std::uint64_t QemuStreamReader::bytes_seen() const { return impl_->seen(); }

namespace {

// QemuDecodeOptions::bulk_read as a source: the input's bytes through the
// caller's reader (pread on a mapped file) instead of through the mapping.
class BulkReadSource final : public ByteSource {
 public:
  BulkReadSource(std::uint64_t size, const QemuDecodeOptions& opt) : size_(size), opt_(opt) {}
  Result<std::size_t> read(std::span<std::uint8_t> dst) override {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(dst.size(), size_ - pos_));
    if (!want) return std::size_t{0};
    SW_TRY(n, opt_.bulk_read(pos_, dst.first(want)));
    if (n != want)
      return fail_at(Errc::io_error, pos_, "stream", "",
                     fmt::format("reader returned {} bytes, expected {}", n, want));
    pos_ += n;
    return n;
  }
  std::optional<std::uint64_t> size() const override { return size_; }
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> dst) override {
    if (offset >= size_) return std::size_t{0};
    return opt_.bulk_read(offset, dst.first(static_cast<std::size_t>(
                                      std::min<std::uint64_t>(dst.size(), size_ - offset))));
  }

 private:
  std::uint64_t size_, pos_ = 0;
  const QemuDecodeOptions& opt_;
};

}  // namespace

Result<void> scan_qemu_stream(ByteSpan bytes, QemuStreamVisitor& visitor,
                              const QemuDecodeOptions& opt) {
  if (opt.bulk_read) {
    BulkReadSource src(bytes.size(), opt);
    return QemuStreamReader(src, opt).run(visitor);
  }
  SpanSource src(bytes);
  return QemuStreamReader(src, opt).run(visitor);
}

Result<void> scan_qemu_stream(ByteSource& source, QemuStreamVisitor& visitor,
                              const QemuDecodeOptions& opt) {
  return QemuStreamReader(source, opt).run(visitor);
}

}  // namespace statewire::qemu
