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

#include "codec/qemu/configuration.hpp"
#include "codec/qemu/trailer.hpp"
#include "statewire/qemu_stream.hpp"

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

std::uint32_t be32_at(ByteSpan b, std::size_t p) {
  return std::uint32_t(b[p]) << 24 | std::uint32_t(b[p + 1]) << 16 | std::uint32_t(b[p + 2]) << 8 |
         std::uint32_t(b[p + 3]);
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

// RAM through QemuDecodeOptions::bulk_read: a reused buffer, refilled when
// less than one worst-case record (or block list) is left in it.
constexpr std::size_t kWindow = 1u << 20;
constexpr std::size_t kRefillBelow = 128u << 10;

struct LiveSection {
  std::string idstr;
  std::uint32_t instance_id = 0;
  std::uint32_t version_id = 0;
};

class Scanner {
 public:
  Scanner(ByteSpan bytes, QemuStreamVisitor& v, const QemuDecodeOptions& opt)
      : bytes_(bytes), v_(v), opt_(opt), cur_(bytes) {
    body_opt_.limits = opt.limits;
  }

  Result<void> run() {
    SW_TRY(magic, ctx(cur_.read_be32(), "stream header", "magic"));
    if (magic != kFileMagic)
      return fail_at(Errc::bad_magic, 0, "stream header", "magic",
                     fmt::format("expected 0x5145564d (\"QEVM\"), found {:#010x}", magic));
    SW_TRY(version, ctx(cur_.read_be32(), "stream header", "version"));
    if (version != kFileVersion)
      return fail_at(Errc::unsupported, 4, "stream header", "version",
                     fmt::format("expected format version 3, found {}{}", version,
                                 version == 2 ? " (obsolete savevm v2)" : ""));
    if (auto trailer = detail::locate_trailer(bytes_)) {
      trailer_ = std::move(*trailer);
    } else {
      SW_CHECK(trailer_damaged(trailer.error()));
    }
    if (trailer_ && trailer_->page_size && std::has_single_bit(trailer_->page_size))
      page_size_ = trailer_->page_size;
    SW_CHECK(v_.on_start(version, trailer_ ? &*trailer_ : nullptr));

    if (!cur_.empty() && *cur_.peek() == static_cast<std::uint8_t>(RecordType::configuration)) {
      std::uint64_t off = cur_.offset();
      SW_CHECK(cur_.skip(1));
      SW_TRY(conf, detail::decode_configuration(cur_));
      if (conf.target_page_bits) page_size_ = std::uint64_t(1) << *conf.target_page_bits;
      SW_CHECK(v_.on_configuration(conf.body, off));
    }
    if (page_size_ < 512 || page_size_ > (1u << 30) || !std::has_single_bit(page_size_))
      return fail_at(Errc::invalid_value, 0, "stream header", "page_size",
                     fmt::format("page size {} is not a power of two in 512..1 GiB",
                                 page_size_));

    while (true) {
      std::uint64_t off = cur_.offset();
      SW_TRY(type, ctx(cur_.read_u8(), "stream", "record type"));
      switch (static_cast<RecordType>(type)) {
        case RecordType::eof:
          SW_CHECK(v_.on_eof(off));
          return after_eof();
        case RecordType::section_start:
        case RecordType::section_full:
        case RecordType::section_part:
        case RecordType::section_end:
          SW_CHECK(section(type, off));
          break;
        case RecordType::command:
          SW_CHECK(command(off));
          break;
        default:
          return fail_at(Errc::invalid_value, off, "stream", "record type",
                         fmt::format("expected a section (0x01-0x04), command (0x08) or EOF "
                                     "(0x00), found {:#04x}",
                                     type));
      }
    }
  }

 private:
  Result<void> after_eof() {
    if (cur_.empty()) return {};
    std::uint64_t off = cur_.offset();
    SW_TRY(type, ctx(cur_.read_u8(), "vmdescription", "record type"));
    if (type != static_cast<std::uint8_t>(RecordType::vmdescription))
      return fail_at(Errc::invalid_value, off, "vmdescription", "record type",
                     fmt::format("expected the description trailer (0x06) or the end after EOF, "
                                 "found {:#04x}",
                                 type));
    SW_TRY(len, ctx(cur_.read_be32(), "vmdescription", "json_len"));
    SW_TRY(json, ctx(cur_.read_bytes(len), "vmdescription", "json"));
    if (!cur_.empty())
      return fail_at(Errc::invalid_value, cur_.offset(), "vmdescription", "json",
                     fmt::format("{} bytes after the description trailer, expected the end",
                                 cur_.remaining()));
    std::string_view text(reinterpret_cast<const char*>(json.data()), json.size());
    if (!trailer_damage_reported_ && (!trailer_ || trailer_->offset != off)) {
      // locate_trailer() only misses a trailer that is not valid (e.g. not
      // ending in '}'); parse it here to say what is wrong.
      if (auto t = detail::parse_trailer(text, off); !t) SW_CHECK(trailer_damaged(t.error()));
    }
    return v_.on_trailer(text, off);
  }

  // QEMU reads the trailer's bytes and ignores them, so a damaged one costs
  // only the schema it would have given: say so and use the other sources.
  Result<void> trailer_damaged(Error e) {
    trailer_damage_reported_ = true;
    e.message += "; the trailer is ignored, device sections use the other schema sources";
    return v_.on_warning(e);
  }

  Result<void> command(std::uint64_t off) {
    SW_TRY(cmd, ctx(cur_.read_be16(), "command", "cmd"));
    SW_TRY(len, ctx(cur_.read_be16(), "command", "len"));
    // MIG_CMD_PACKAGED (7) wraps a nested stream that follows the record:
    // postcopy only, never in a file written by `migrate`.
    if (cmd == 0 || cmd > 11)
      return fail_at(Errc::invalid_value, off + 1, "command", "cmd",
                     fmt::format("expected a MIG_CMD value 1..11, found {}", cmd));
    if (cmd == 7)
      return fail_at(Errc::unsupported, off + 1, "command", "cmd",
                     fmt::format("not supported: packaged command (postcopy) at offset {}", off));
    SW_TRY(data, ctx(cur_.read_bytes(len), "command", "data"));
    return v_.on_command(cmd, data, off);
  }

  Result<void> section(std::uint8_t type, std::uint64_t off) {
    SectionHeader h;
    h.offset = off;
    h.kind = type == 0x01   ? SectionKind::start
             : type == 0x02 ? SectionKind::part
             : type == 0x03 ? SectionKind::end
                            : SectionKind::full;
    std::string where = fmt::format("{} section", kind_label(h.kind));
    SW_TRY(id, ctx(cur_.read_be32(), where, "section_id"));
    h.section_id = id;
    if (h.kind == SectionKind::start || h.kind == SectionKind::full) {
      where = fmt::format("{} section {}", kind_label(h.kind), id);
      SW_TRY(idstr, ctx(cur_.read_counted_string(), where, "idstr"));
      h.idstr = std::move(idstr);
      where = fmt::format("{} (section {})", h.idstr, id);
      SW_TRY(inst, ctx(cur_.read_be32(), where, "instance_id"));
      SW_TRY(ver, ctx(cur_.read_be32(), where, "version_id"));
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
    h.body_offset = cur_.offset();
    SW_CHECK(v_.on_section_begin(h));

    SectionSummary sum;
    sum.header = h;
    std::string label = fmt::format("{}/{}", h.idstr, h.instance_id);
    if (h.idstr == "ram" && h.instance_id == 0) {
      if (h.version_id != 4)
        return fail_at(Errc::unsupported, h.body_offset - 4, label, "version_id",
                       fmt::format("expected RAM section version 4, found {}", h.version_id));
      SW_CHECK(ram_body(label));
      sum.source = SchemaSource::ram;
    } else {
      SW_CHECK(device_body(h, label, sum));
    }
    sum.body_size = cur_.offset() - h.body_offset;
    SW_CHECK(footer(h, label, sum));
    return v_.on_section_end(sum);
  }

  bool footer_at(std::uint64_t p, std::uint32_t id) const {
    return p + 5 <= bytes_.size() && bytes_[p] == 0x7E && be32_at(bytes_, p + 1) == id;
  }

  Result<void> footer(const SectionHeader& h, const std::string& label, SectionSummary& sum) {
    std::uint64_t p = cur_.offset();
    if (!footers_) footers_ = footer_at(p, h.section_id);
    if (!*footers_) return {};
    SW_TRY(marker, ctx(cur_.read_u8(), label, "footer"));
    if (marker != 0x7E)
      return fail_at(Errc::mismatch, p, label, "footer",
                     fmt::format("expected the section footer 0x7e, found {:#04x}", marker));
    SW_TRY(fid, ctx(cur_.read_be32(), label, "footer.section_id"));
    if (fid != h.section_id)
      return fail_at(Errc::mismatch, p + 1, label, "footer.section_id",
                     fmt::format("expected section id {}, found {}", h.section_id, fid));
    sum.footer = true;
    return {};
  }

  // Could a record start at p? Used to confirm a footer or a schema's end.
  bool plausible_record(std::uint64_t p) const {
    if (p >= bytes_.size()) return false;
    const std::size_t n = bytes_.size();
    switch (bytes_[p]) {
      case 0x00: return p + 1 == n || bytes_[p + 1] == 0x06;
      case 0x01:
      case 0x04: {
        if (p + 6 > n) return false;
        std::size_t len = bytes_[p + 5];
        if (len == 0 || p + 6 + len + 8 > n) return false;
        for (std::size_t i = 0; i < len; ++i)
          if (bytes_[p + 6 + i] < 0x20 || bytes_[p + 6 + i] > 0x7e) return false;
        return true;
      }
      case 0x02:
      case 0x03: return p + 5 <= n && live_.count(be32_at(bytes_, p + 1)) != 0;
      case 0x08: {
        if (p + 5 > n) return false;
        unsigned cmd = unsigned(bytes_[p + 1]) << 8 | bytes_[p + 2];
        return cmd >= 1 && cmd <= 11;
      }
      default: return false;
    }
  }

  // Does the input end inside a record header starting at p (or right at p)?
  bool cut_record(std::uint64_t p) const {
    const std::size_t n = bytes_.size();
    if (p >= n) return p == n;
    switch (bytes_[p]) {
      case 0x01:
      case 0x04: return p + 6 > n || p + 6 + bytes_[p + 5] + 8 > n;
      case 0x02:
      case 0x03:
      case 0x08: return p + 5 > n;
      default: return false;
    }
  }

  std::optional<std::uint64_t> scan_footer(std::uint64_t from, std::uint32_t id) const {
    std::uint64_t p = from;
    while (p < bytes_.size()) {
      const void* hit = std::memchr(bytes_.data() + p, 0x7E, bytes_.size() - p);
      if (!hit) return std::nullopt;
      std::uint64_t q = static_cast<const std::uint8_t*>(hit) - bytes_.data();
      // In a cut stream, a footer followed by a record the cut runs through
      // still ends its section: the section is reported, and the next read
      // says where the input stops.
      if (footer_at(q, id) && (plausible_record(q + 5) || cut_record(q + 5))) return q;
      p = q + 1;
    }
    return std::nullopt;
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
  };

  // Decodes the body with `d`; with `end` known it must explain exactly those
  // bytes. Failures go to `why` (the caller reports them if nothing works).
  std::optional<Attempt> try_decode(const Description& d, const SectionHeader& h,
                                    std::optional<std::uint64_t> end, std::string& why,
                                    const BodyDecodeOptions* with = nullptr) {
    std::uint64_t stop = end ? *end : bytes_.size();
    Cursor c(bytes_.subspan(h.body_offset, stop - h.body_offset), h.body_offset);
    auto r = decode_body(d, c, h.version_id, with ? *with : body_opt_);
    if (!r) {
      why = r.error().to_string();
      return std::nullopt;
    }
    if (end && !c.empty()) {
      why = fmt::format("it explains {} of the {} body bytes", c.offset() - h.body_offset,
                        *end - h.body_offset);
      return std::nullopt;
    }
    if (!end && !(footers_.value_or(false) ? footer_at(c.offset(), h.section_id)
                                           : plausible_record(c.offset()))) {
      why = fmt::format("no record follows where it ends ({:#x})", c.offset());
      return std::nullopt;
    }
    if (opt_.verify_reencode) {
      ByteWriter w;
      auto enc = encode_body(*r, w);
      const std::size_t n = c.offset() - h.body_offset;
      if (!enc || w.size() != n ||
          std::memcmp(w.bytes().data(), bytes_.data() + h.body_offset, n) != 0) {
        why = "the decoded tree does not re-encode to the same bytes";
        return std::nullopt;
      }
    }
    return Attempt{std::move(*r), c.offset()};
  }

  // A dump says only *that* a field has a test, not what it decides. With the
  // footer fixing the length, the outcomes of the first kMaxDumpTests tests
  // are enumerated: exactly one reading that explains every byte (and
  // re-encodes to them) is accepted; several are ambiguous, none a failure.
  std::optional<Attempt> try_decode_dump(const Description& d, const SectionHeader& h,
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
      auto a = try_decode(d, h, end, w, &o);
      const unsigned used = std::min(calls, kMaxDumpTests);
      if (mask == 0) first_why = w;
      // Masks that differ only in bits no test asked for give the same reading.
      if (!seen.insert({used, mask & ((1u << used) - 1)}).second) continue;
      if (a) {
        ++matches;
        if (!found) found = std::move(a);
      }
      if (calls == 0) break;  // no test-gated field: one reading
    }
    if (matches == 1) return found;
    why = matches ? fmt::format("{} readings of its test-gated fields explain the bytes", matches)
                  : first_why;
    return std::nullopt;
  }

  Result<void> device_body(const SectionHeader& h, const std::string& label,
                           SectionSummary& sum) {
    const TrailerDevice* td = trailer_ ? trailer_->find(h.idstr, h.instance_id) : nullptr;
    std::optional<std::uint64_t> end;
    std::string notes;
    const bool td_fits = td && td->body_size <= bytes_.size() - h.body_offset;
    if (td && h.kind == SectionKind::full) {
      const std::uint64_t e = h.body_offset + std::min<std::uint64_t>(td->body_size, bytes_.size());
      // The trailer's sizes are what QEMU wrote; with footers on, the footer must be there.
      bool ok = td_fits &&
                (footers_ ? (*footers_ ? footer_at(e, h.section_id) : plausible_record(e))
                          : (footer_at(e, h.section_id) || plausible_record(e)));
      if (ok) end = e;
      else
        notes = "the trailer's sizes do not end at a record; ";
    }
    if (!end && footers_ != false) end = scan_footer(h.body_offset, h.section_id);
    if (!end && td_fits && h.kind == SectionKind::full) {
      // Neither a footer where the trailer says nor anywhere later: take the
      // trailer's word, so the footer check names the exact bad bytes.
      end = h.body_offset + td->body_size;
    }

    const Description* used = nullptr;
    std::optional<Attempt> got;
    for (SchemaSource src : opt_.schema_order) {
      if (!opt_.decode_devices) break;
      const Description* d = nullptr;
      std::string name;
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
      got = src == SchemaSource::dump ? try_decode_dump(*d, h, *end, why)
                                      : try_decode(*d, h, end, why);
      if (got) {
        sum.source = src;
        sum.note = fmt::format("{} '{}' v{}", schema_source_name(src), d->name, d->version_id);
        used = d;
        break;
      }
      notes += fmt::format("{} '{}': {}; ", schema_source_name(src), d->name, why);
    }
    if (!got) {
      if (!end && footers_ != false)
        return fail_at(Errc::truncated, h.body_offset, label, "footer",
                       fmt::format("{}no section footer (7e {:08x}) before the end of the input",
                                   notes, h.section_id));
      if (!end)
        return fail_at(Errc::unsupported, h.body_offset, label, "",
                       fmt::format("cannot tell where the section ends: {}no footer, no trailer "
                                   "entry, and no schema explains it",
                                   notes));
      Attempt a;
      a.end = *end;
      auto raw = bytes_.subspan(h.body_offset, *end - h.body_offset);
      a.body.members.push_back(
          {std::string(keys::kOpaque), Value(Blob{std::vector<std::uint8_t>(raw.begin(), raw.end())})});
      got = std::move(a);
      sum.source = SchemaSource::opaque;
      if (notes.size() >= 2) notes.resize(notes.size() - 2);
      sum.note = notes.empty() ? std::string(opt_.decode_devices ? "no schema for this section"
                                                                 : "not decoded")
                               : notes;
    }
    ByteSpan raw = bytes_.subspan(h.body_offset, got->end - h.body_offset);
    SW_CHECK(cur_.skip(raw.size()));
    return v_.on_device_body(h, std::move(got->body), raw, sum.source, used);
  }

  Result<void> ram_body(const std::string& label) {
    // The window holds any record of ordinary page sizes; huge target pages
    // (QEMU allows up to 2^30) are read through the span instead.
    if (!opt_.bulk_read || page_size_ + 512 > kRefillBelow)
      return ram_records(cur_, label, [](Cursor&) -> Result<void> { return {}; });
    if (window_.size() != kWindow) window_.resize(kWindow);
    std::uint64_t wbase = cur_.offset();
    std::size_t wlen = 0;
    auto refill = [&](Cursor& c) -> Result<void> {
      if (c.remaining() >= kRefillBelow || wbase + wlen >= bytes_.size()) return {};
      const std::size_t pos = c.position(), tail = wlen - pos;
      std::memmove(window_.data(), window_.data() + pos, tail);
      wbase += pos;
      wlen = tail;
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::uint64_t>(window_.size() - wlen, bytes_.size() - (wbase + wlen)));
      SW_TRY(n, opt_.bulk_read(wbase + wlen, std::span<std::uint8_t>(window_.data() + wlen, want)));
      if (n != want)
        return fail_at(Errc::io_error, wbase + wlen, label, "",
                       fmt::format("reader returned {} bytes, expected {}", n, want));
      wlen += n;
      c = Cursor(ByteSpan(window_.data(), wlen), wbase);
      return {};
    };
    Cursor c(ByteSpan(window_.data(), 0), wbase);
    SW_CHECK(ram_records(c, label, refill));
    // The main cursor continues after the RAM body (a skip touches no memory).
    return cur_.skip(static_cast<std::size_t>(c.offset() - cur_.offset()));
  }

  // RAM bodies: records until EOS. The current block survives across
  // sections (QEMU resets it only at setup), so CONTINUE may open a PART.
  template <class Refill>
  Result<void> ram_records(Cursor& cur, const std::string& label, Refill&& refill) {
    const std::uint64_t mask = page_size_ - 1;
    while (true) {
      SW_CHECK(refill(cur));
      RamRecord rec;
      rec.stream_offset = cur.offset();
      rec.page_size = page_size_;
      SW_TRY(word, ctx(cur.read_be64(), label, "page header"));
      rec.flags = static_cast<std::uint16_t>(word & mask);
      rec.addr = word & ~mask;
      const std::uint16_t kind = rec.flags & ~kRamContinue;
      switch (kind) {
        case kRamMemSize:
          SW_CHECK(ram_blocks(cur, label, rec));
          continue;
        case kRamEos:
          return v_.on_ram_record(rec);
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
      } else {
        SW_TRY(data, ctx(cur.read_bytes(page_size_), label, "page data"));
        rec.data = data;
      }
      SW_CHECK(v_.on_ram_record(rec));
    }
  }

  Unexpected unsupported(const std::string& label, std::string_view what, std::uint64_t off) {
    return fail_at(Errc::unsupported, off, label, "page header",
                   fmt::format("not supported: {} at offset {}", what, off));
  }

  Result<void> ram_blocks(Cursor& cur, const std::string& label, const RamRecord& rec) {
    // No count on the wire: blocks follow until their lengths add up to the total.
    std::vector<RamBlock> blocks;
    std::uint64_t sum = 0;
    while (sum < rec.addr) {
      RamBlock b;
      std::string f = fmt::format("blocks[{}]", blocks.size());
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
    SW_CHECK(v_.on_ram_blocks(rec.addr, rec.flags, blocks_));
    return {};
  }

  ByteSpan bytes_;
  QemuStreamVisitor& v_;
  const QemuDecodeOptions& opt_;
  Cursor cur_;
  BodyDecodeOptions body_opt_;
  std::optional<Trailer> trailer_;
  std::optional<bool> footers_;
  std::map<std::uint32_t, LiveSection> live_;
  std::uint64_t page_size_ = 4096;
  std::vector<RamBlock> blocks_;
  std::vector<std::uint8_t> window_;
  std::string block_;
  std::uint64_t block_len_ = 0;
  bool have_block_ = false;
  bool trailer_damage_reported_ = false;
};

}  // namespace

Result<void> scan_qemu_stream(ByteSpan bytes, QemuStreamVisitor& visitor,
                              const QemuDecodeOptions& opt) {
  Scanner s(bytes, visitor, opt);
  return s.run();
}

}  // namespace statewire::qemu
