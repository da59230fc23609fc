// Reads the framed format (layout in framed_layout.hpp, docs/framed-format.md).
//
// Every record's CRC is checked before its payload is parsed, and every length
// confines a child cursor: reading past it, or leaving bytes unread in it, is
// an error naming the section, the field and the offset.
#include <fmt/format.h>
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <memory>
#include <optional>

#include "codec/framed/framed_layout.hpp"
#include "core/crc32c.hpp"
#include "core/stream_window.hpp"
#include "statewire/framed.hpp"

// Assigns a Result's value to an existing variable, or returns its error.
#define SW_TRY_ASSIGN(lhs, expr)                                         \
  do {                                                                   \
    auto sw_assign_r_ = (expr);                                          \
    if (!sw_assign_r_) return ::statewire::Unexpected(std::move(sw_assign_r_.error())); \
    lhs = std::move(*sw_assign_r_);                                      \
  } while (0)

namespace statewire {

namespace {

using namespace framed;

// LZ4's block format cannot expand one input byte to more than 255 output
// bytes (a match length grows by 255 per extra length byte); a claim above
// that is refused before anything is allocated.
constexpr std::uint64_t kLz4MaxRatio = 255;
constexpr std::uint64_t kLz4Slack = 64;

Result<std::string> read_str(Cursor& c) {
  SW_TRY(len, c.read_le<std::uint16_t>());
  SW_TRY(span, c.read_bytes(len));
  return std::string(reinterpret_cast<const char*>(span.data()), span.size());
}

Result<void> expect_consumed(const Cursor& c, std::string_view what) {
  if (!c.empty())
    return fail(c.error_here(Errc::mismatch,
                             fmt::format("{} bytes left unread at the end of {}", c.remaining(), what)));
  return {};
}

}  // namespace

class FramedStreamReader::Impl {
 public:
  Impl(ByteSource& src, const FramedDecodeOptions& opt) : opt_(opt), win_(src, opt.max_buffer) {}

  Result<const FramedHeader*> header_record() {
    if (!have_header_) {
      SW_TRY(item, next());
      if (item)  // the header is read before any item; one arrived only if it was not first
        return fail(at(0, Errc::invalid_value, "first record is not the header"));
    }
    return &header_;
  }

  Result<std::optional<FramedItem>> next() {
    if (!started_) {
      SW_CHECK(win_.want(sizeof kMagic + 2));
      Cursor c = win_.cursor();
      if (!is_framed(c.rest()))
        return fail(c.error_here(Errc::bad_magic, "not a statewire framed stream (bad magic)"));
      SW_CHECK(c.skip(sizeof kMagic));
      SW_TRY(version, c.read_le<std::uint16_t>());
      if (version != kFramedFormatVersion)
        return fail(c.error_here(Errc::unsupported,
                                 fmt::format("framed format version {}, this build reads {}",
                                             version, kFramedFormatVersion)));
      win_.consume(c.position());
      started_ = true;
    }
    while (!done_) {
      const std::uint64_t record_offset = win_.offset();
      SW_CHECK(win_.want(kRecordHeaderSize));
      Cursor h = win_.cursor();
      SW_TRY(type, h.read_u8());
      SW_TRY(flags, h.read_u8());
      SW_TRY(len, h.read_le<std::uint32_t>());
      const std::uint64_t whole = kRecordHeaderSize + std::uint64_t(len) + kCrcSize;
      if (whole > win_.bound())
        return fail(at(record_offset, Errc::limit_exceeded,
                       fmt::format("record type {:#04x} of {} bytes, more than the reader's bound "
                                   "of {}",
                                   type, len, win_.bound())));
      SW_CHECK(win_.want(static_cast<std::size_t>(whole)));
      Cursor rec = win_.cursor();
      SW_CHECK(rec.skip(kRecordHeaderSize));
      SW_TRY(payload, rec.sub(len));
      SW_TRY(crc, rec.read_le<std::uint32_t>());
      std::uint32_t actual = detail::crc32c(0, win_.view().data(), kRecordHeaderSize + len);
      if (crc != actual) {
        Error e = make_error(Errc::mismatch,
                             fmt::format("CRC32C mismatch in record type {:#04x}: stored {:#010x}, "
                                         "computed {:#010x}",
                                         type, crc, actual));
        e.offset = record_offset;
        if (type == kSection) e.section = peek_section_label(payload);
        // A chunk belongs to the section before it: say which, so a user
        // knows what state the damage is in.
        if (type == kChunk && open_ && !skipping_) {
          e.section = open_label_;
          e.message = "memory chunk of this section: " + e.message;
        }
        return fail(std::move(e));
      }
      budget_.grant_input(whole);  // input actually read, a record at a time
      SW_TRY(item, record(type, flags, payload, record_offset));
      // The decompressed bytes are read now: their charge is returned.
      budget_.refund(unpacked_charge_);
      unpacked_charge_ = 0;
      win_.consume(static_cast<std::size_t>(whole));
      if (done_) {
        SW_TRY(extra, win_.probe(1));
        if (extra) {
          (void)win_.probe(win_.bound());
          return fail(at(win_.offset(), Errc::invalid_value,
                         fmt::format("{}{} bytes after the end record", win_.at_end() ? "" : "at least ",
                                     win_.view().size())));
        }
        bytes_ = win_.offset();
      }
      if (item) return item;
    }
    return std::optional<FramedItem>();
  }

  const FramedHeader& header() const { return header_; }
  const std::vector<std::string>& skipped() const { return skipped_; }
  std::uint64_t offset() const { return win_.offset(); }
  std::uint64_t bytes() const { return bytes_; }
  std::size_t high_water() const { return win_.high_water(); }

 private:
  // One record whose CRC held; what it gives the caller, if anything.
  Result<std::optional<FramedItem>> record(std::uint8_t type, std::uint8_t flags, Cursor payload,
                                           std::uint64_t record_offset) {
    std::optional<FramedItem> item;
    if (!have_header_ && type != kHeader)
      return fail(at(record_offset, Errc::invalid_value, "first record is not the header"));
    if (type != kChunk && type != kNames) SW_CHECK(close_chunked(record_offset));
    switch (type) {
      case kHeader: {
        if (have_header_) return fail(at(record_offset, Errc::invalid_value, "second header record"));
        SW_CHECK(header(payload));
        have_header_ = true;
        break;
      }
      case kNames: SW_CHECK(names(payload)); break;
      case kChunk: {
        SW_TRY(raw, unpack(payload, flags, record_offset));
        Cursor body = raw.empty() ? payload : Cursor(raw, payload.offset());
        SW_TRY_ASSIGN(item, chunk(body, record_offset));
        break;
      }
      case kEnvelope: {
        SW_TRY(raw, unpack(payload, flags, record_offset));
        Cursor body = raw.empty() ? payload : Cursor(raw, payload.offset());
        in_envelope_ = true;
        auto env = structure(body, 0);
        in_envelope_ = false;
        if (!env) return fail(std::move(env.error().in_section("envelope")));
        auto done = expect_consumed(body, "the envelope");
        if (!done) return fail(std::move(done.error().in_section("envelope")));
        item.emplace();
        item->kind = FramedItem::Kind::envelope;
        item->envelope = std::move(*env);
        break;
      }
      case kSection: {
        SW_TRY(raw, unpack(payload, flags, record_offset));
        Cursor body = raw.empty() ? payload : Cursor(raw, payload.offset());
        SW_TRY_ASSIGN(item, section(body, flags, record_offset));
        break;
      }
      case kEnd: {
        SW_CHECK(end(payload, record_offset));
        done_ = true;
        item.emplace();
        item->kind = FramedItem::Kind::end;
        break;
      }
      default:
        if (flags & kFlagMandatory)
          return fail(at(record_offset, Errc::unknown_section,
                         fmt::format("unknown mandatory record type {:#04x}", type)));
        skipped_.push_back(fmt::format("record type {:#04x} at offset {:#x} (optional, unknown)",
                                       type, record_offset));
    }
    return item;
  }

 private:
  static Error at(std::uint64_t offset, Errc code, std::string msg) {
    Error e = make_error(code, std::move(msg));
    e.offset = offset;
    return e;
  }

  // Best effort, for messages about a record whose CRC failed.
  static std::string peek_section_label(Cursor payload) {
    auto name = read_str(payload);
    auto seq = payload.read_le<std::uint32_t>();
    auto inst = payload.read_le<std::uint32_t>();
    if (!seq) return {};
    if (!name || !inst) return {};
    return fmt::format("{}/{}", *name, *inst);
  }

  Result<void> header(Cursor c) {
    FramedHeader& h = header_;
    SW_TRY(producer, read_str(c));
    SW_TRY(pversion, read_str(c));
    SW_TRY(machine, read_str(c));
    h.producer = std::move(producer);
    h.producer_version = std::move(pversion);
    h.machine_type = std::move(machine);
    SW_TRY(ncaps, c.read_le<std::uint16_t>());
    for (unsigned i = 0; i < ncaps; ++i) {
      SW_TRY(cap, read_str(c));
      h.capabilities.push_back(std::move(cap));
    }
    SW_TRY(nprops, c.read_le<std::uint16_t>());
    for (unsigned i = 0; i < nprops; ++i) {
      SW_TRY(k, read_str(c));
      SW_TRY(v, read_str(c));
      h.properties.emplace_back(std::move(k), std::move(v));
    }
    return expect_consumed(c, "the header record");
  }

  Result<void> names(Cursor c) {
    SW_TRY(first, c.read_le<std::uint32_t>());
    // Names are numbered by arrival; a moved or lost name record would shift
    // every later field name, so the record says where it starts.
    if (first != names_.size())
      return fail(c.error_here(Errc::mismatch,
                               fmt::format("name table record starts at index {}, expected {}",
                                           first, names_.size())));
    SW_TRY(n, c.read_le<std::uint32_t>());
    // Each name takes at least its 2-byte length.
    if (n > c.remaining() / 2)
      return fail(c.error_here(Errc::truncated, fmt::format("name table of {} entries", n)));
    for (std::uint32_t i = 0; i < n; ++i) {
      SW_TRY(name, read_str(c));
      SW_CHECK(budget_.charge(sizeof(std::string) + name.size(), c.offset(), "a name table entry"));
      names_.push_back(std::move(name));
    }
    return expect_consumed(c, "a name table record");
  }

  // A compressed payload: u32 raw_len + compressed bytes, decompressed into a
  // buffer reused by the next record (a fresh megabyte per record cost an
  // mmap, page faults and zeroing each time); empty when the record is not
  // compressed. The claimed length is believed only as far as data backs
  // it: it must fit max_blob and the budget before anything is allocated, an
  // LZ4 claim must be within what the compressed bytes can expand to, and
  // zstd output goes into a buffer grown as output actually arrives. The raw
  // bytes are input actually read: they are granted to the budget once they
  // exist (and the charge is refunded when the record has been read).
  Result<ByteSpan> unpack(const Cursor& payload, std::uint8_t flags, std::uint64_t record_offset) {
    if (!(flags & (kFlagZstd | kFlagLz4))) return ByteSpan{};
    Cursor c = payload;
    SW_TRY(raw_len, c.read_le<std::uint32_t>());
    SW_TRY(packed, c.read_bytes(c.remaining()));
    if (raw_len > opt_.limits.max_blob)
      return fail(at(record_offset, Errc::limit_exceeded,
                     fmt::format("compressed record claims {} bytes, limit {}", raw_len,
                                 opt_.limits.max_blob)));
    const bool lz4 = !(flags & kFlagZstd);
    if (lz4 && raw_len > packed.size() * kLz4MaxRatio + kLz4Slack)
      return fail(at(record_offset, Errc::invalid_value,
                     fmt::format("lz4 record claims {} bytes, more than its {} compressed bytes "
                                 "can hold",
                                 raw_len, packed.size())));
    SW_CHECK(budget_.charge(raw_len, record_offset, "a decompressed record"));
    unpacked_charge_ = raw_len;
    std::span<std::uint8_t> raw;
    if (lz4) {
      if (unpacked_.size() < raw_len) unpacked_.resize(raw_len);
      raw = std::span<std::uint8_t>(unpacked_.data(), raw_len);
      int n = LZ4_decompress_safe(reinterpret_cast<const char*>(packed.data()),
                                  reinterpret_cast<char*>(raw.data()),
                                  static_cast<int>(packed.size()), static_cast<int>(raw.size()));
      if (n < 0 || static_cast<std::uint32_t>(n) != raw_len)
        return fail(at(record_offset, Errc::invalid_value,
                       fmt::format("lz4 payload does not decompress to {} bytes", raw_len)));
    } else {
      SW_TRY(out, unzstd(packed, raw_len, record_offset));
      raw = std::move(out);
    }
    budget_.grant_input(raw.size());
    return ByteSpan(raw.data(), raw.size());
  }

  Result<std::span<std::uint8_t>> unzstd(ByteSpan packed, std::uint32_t raw_len,
                                         std::uint64_t record_offset) {
    auto bad = [&](std::string why) {
      return fail(at(record_offset, Errc::invalid_value,
                     fmt::format("zstd payload does not decompress to {} bytes: {}", raw_len, why)));
    };
    if (!dctx_) dctx_.reset(ZSTD_createDCtx());
    if (!dctx_) return bad("no decompression context");
    ZSTD_DCtx_reset(dctx_.get(), ZSTD_reset_session_only);
    // Start small (or with what the reused buffer already holds); double
    // while output keeps coming, up to one byte past the claim (to notice
    // output beyond it).
    const std::uint64_t limit = std::uint64_t{raw_len} + 1;
    const std::uint64_t start =
        std::min<std::uint64_t>(limit, std::max<std::uint64_t>(64u << 10, packed.size() * 8));
    if (unpacked_.size() < start) unpacked_.resize(static_cast<std::size_t>(start));
    std::size_t cap = static_cast<std::size_t>(std::min<std::uint64_t>(limit, unpacked_.size()));
    ZSTD_inBuffer in{packed.data(), packed.size(), 0};
    std::size_t produced = 0;
    while (true) {
      ZSTD_outBuffer out{unpacked_.data(), cap, produced};
      const std::size_t ret = ZSTD_decompressStream(dctx_.get(), &out, &in);
      produced = out.pos;
      if (ZSTD_isError(ret)) return bad(ZSTD_getErrorName(ret));
      if (produced > raw_len) return bad("more output than claimed");
      if (ret == 0) break;  // the frame is complete
      if (produced == cap) {
        cap = static_cast<std::size_t>(std::min<std::uint64_t>(limit, std::uint64_t{cap} * 2));
        if (unpacked_.size() < cap) unpacked_.resize(cap);
      } else if (in.pos == in.size) {
        return bad(fmt::format("the compressed bytes end after {} bytes of output", produced));
      }
    }
    if (in.pos != in.size) return bad("bytes after the compressed frame");
    if (produced != raw_len) return bad(fmt::format("{} bytes came out", produced));
    return std::span<std::uint8_t>(unpacked_.data(), produced);
  }

  Result<std::optional<FramedItem>> section(Cursor c, std::uint8_t flags,
                                            std::uint64_t record_offset) {
    Section sec;
    SW_TRY(name, read_str(c));
    sec.name = std::move(name);
    SW_TRY(sequence, c.read_le<std::uint32_t>());
    SW_TRY(inst, c.read_le<std::uint32_t>());
    SW_TRY(ver, c.read_le<std::uint32_t>());
    SW_TRY(kind, c.read_u8());
    const std::uint64_t expected = sections_ + skipped_sections_;
    if (sequence != expected) {
      Error e = at(record_offset, Errc::mismatch,
                   fmt::format("section number {} arrived in position {} (sections reordered "
                               "or lost)", sequence, expected));
      e.section = fmt::format("{}/{}", sec.name, inst);
      return fail(std::move(e));
    }
    SW_TRY(sid, c.read_le<std::uint32_t>());
    SW_TRY(fp, c.read_le<std::uint64_t>());
    sec.instance_id = inst;
    sec.version_id = ver;
    sec.section_id = sid;
    if (kind > static_cast<std::uint8_t>(SectionKind::end))
      return fail(at(record_offset, Errc::invalid_value, fmt::format("section kind {}", kind)));
    sec.kind = static_cast<SectionKind>(kind);
    if (opt_.known_section && !opt_.known_section(sec)) {
      bool mandatory = flags & kFlagMandatory;
      auto policy = mandatory ? opt_.unknown_mandatory : opt_.unknown_optional;
      if (policy == UnknownSectionPolicy::refuse) {
        Error e = at(record_offset, Errc::unknown_section,
                     fmt::format("the destination does not know this {} section",
                                 mandatory ? "mandatory" : "optional"));
        e.section = sec.label();
        return fail(std::move(e));
      }
      skipped_.push_back(fmt::format("section {} at offset {:#x} ({}, unknown)", sec.label(),
                                     record_offset, mandatory ? "mandatory" : "optional"));
      ++skipped_sections_;
      skipping_ = true;  // and its memory chunks
      return std::optional<FramedItem>();
    }
    pending_.clear();
    auto body = structure(c, 0);
    if (!body) return fail(std::move(body.error().in_section(sec.label())));
    auto done = expect_consumed(c, "the section");
    if (!done) return fail(std::move(done.error().in_section(sec.label())));
    sec.body = std::move(*body);
    for (Pending& p : pending_) p.name = sec.body.members[p.member].name;
    open_members_ = sec.body.members.size();
    open_label_ = sec.label();
    ++sections_;
    open_ = !pending_.empty();
    std::optional<FramedItem> item(std::in_place);
    item->kind = FramedItem::Kind::section;
    item->provenance = {sec.label(), fp};
    item->section = std::move(sec);
    return item;
  }

  // CHUNK: u32 member index, u32 first element, u32 n, n values, for the
  // last section's chunked array, strictly in order.
  Result<std::optional<FramedItem>> chunk(Cursor c, std::uint64_t record_offset) {
    if (skipping_) return std::optional<FramedItem>();
    if (!open_)
      return fail(at(record_offset, Errc::invalid_value, "memory chunk with no section awaiting it"));
    SW_TRY(member, c.read_le<std::uint32_t>());
    SW_TRY(first, c.read_le<std::uint32_t>());
    SW_TRY(n, c.read_le<std::uint32_t>());
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const Pending& p) { return p.member == member; });
    if (it == pending_.end() || member >= open_members_) {
      Error e = at(record_offset, Errc::invalid_value,
                   fmt::format("memory chunk for member {}, which is not chunked", member));
      return fail(std::move(e.in_section(open_label_)));
    }
    const std::string& name = it->name;
    const std::uint64_t room = it->open ? opt_.limits.max_elements - std::min<std::uint64_t>(
                                                                      it->arrived, opt_.limits.max_elements)
                                        : it->total - it->arrived;
    if (first != it->arrived || n > room || n > c.remaining() / kValueTagSize) {
      Error e = at(record_offset, it->open && n > room ? Errc::limit_exceeded : Errc::mismatch,
                   it->open ? fmt::format("chunk of elements {}..{} after {} arrived", first,
                                          std::uint64_t{first} + n, it->arrived)
                            : fmt::format("chunk of elements {}..{} after {} of {} arrived", first,
                                          std::uint64_t{first} + n, it->arrived, it->total));
      return fail(std::move(e.in_field(name).in_section(open_label_)));
    }
    if (auto paid = budget_.charge(std::uint64_t{n} * value_cost(), c.offset(), "a chunk's elements");
        !paid)
      return fail(std::move(paid.error().in_field(name).in_section(open_label_)));
    std::optional<FramedItem> item(std::in_place);
    item->kind = FramedItem::Kind::chunk;
    item->member = member;
    item->first = first;
    item->items.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      auto v = value(c, 1);
      if (!v) {
        return fail(std::move(
            v.error().in_field(fmt::format("{}[{}]", name, it->arrived + i)).in_section(open_label_)));
      }
      item->items.push_back(std::move(*v));
    }
    auto done = expect_consumed(c, "a memory chunk");
    if (!done) return fail(std::move(done.error().in_section(open_label_)));
    it->arrived += n;
    return item;
  }

  // Before any record other than a chunk: the previous section must be whole.
  Result<void> close_chunked(std::uint64_t record_offset) {
    skipping_ = false;
    if (!open_) return {};
    for (const Pending& p : pending_) {
      if (!p.open && p.arrived != p.total) {
        Error e = at(record_offset, Errc::truncated,
                     fmt::format("{} of {} elements arrived before the next record", p.arrived, p.total));
        return fail(std::move(e.in_field(p.name).in_section(open_label_)));
      }
    }
    open_ = false;
    pending_.clear();
    return {};
  }

  Result<Struct> structure(Cursor& c, std::size_t depth) {
    if (depth > opt_.limits.max_depth)
      return fail(c.error_here(Errc::limit_exceeded, "structures nested too deep"));
    Struct s;
    SW_TRY(n, c.read_le<std::uint32_t>());
    // Each member takes at least a name index and a value tag.
    if (n > c.remaining() / (4 + kValueTagSize))
      return fail(c.error_here(Errc::truncated, fmt::format("{} members cannot fit", n)));
    s.members.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      SW_TRY(idx, c.read_le<std::uint32_t>());
      if (idx >= names_.size())
        return fail(c.error_here(Errc::invalid_value,
                                 fmt::format("name index {} not in the name table ({} names)", idx,
                                             names_.size())));
      // Each member holds its own copy of the name: charged per copy, so a
      // long name shared by many members costs each time.
      SW_CHECK(budget_.charge(member_cost(names_[idx].size()), c.offset(), "a member and its name"));
      chunked_total_.reset();
      auto v = value(c, depth);
      if (!v) return fail(std::move(v.error().in_field(names_[idx])));
      if (chunked_total_)
        pending_.push_back({i, *chunked_total_, 0, *chunked_total_ == kOpenCount, {}});
      chunked_total_.reset();
      s.members.push_back({names_[idx], std::move(*v)});
    }
    SW_TRY(nsub, c.read_le<std::uint32_t>());
    if (nsub > c.remaining() / 10)
      return fail(c.error_here(Errc::truncated, fmt::format("{} subsections cannot fit", nsub)));
    for (std::uint32_t i = 0; i < nsub; ++i) {
      SubsectionState sub;
      SW_TRY(name, read_str(c));
      SW_CHECK(budget_.charge(sizeof(SubsectionState) + name.size(), c.offset(), "a subsection"));
      sub.name = std::move(name);
      SW_TRY(ver, c.read_le<std::uint32_t>());
      sub.version_id = ver;
      SW_TRY(len, c.read_le<std::uint32_t>());
      SW_TRY(inner, c.sub(len));
      auto body = structure(inner, depth + 1);
      if (!body) return fail(std::move(body.error().in_field(sub.name)));
      if (!inner.empty()) {
        auto done = expect_consumed(inner, "subsection " + sub.name);
        return fail(std::move(done.error().in_field(sub.name)));
      }
      sub.body = std::move(*body);
      s.subsections.push_back(std::move(sub));
    }
    return s;
  }

  Result<Value> value(Cursor& c, std::size_t depth) {
    SW_TRY(type, c.read_u8());
    SW_TRY(len, c.read_le<std::uint32_t>());
    SW_TRY(p, c.sub(len));
    if (type > static_cast<std::uint8_t>(ValueKind::structure))
      return fail(p.error_here(Errc::invalid_value, fmt::format("unknown value type {}", type)));
    auto kind = static_cast<ValueKind>(type);
    auto need = [&](std::size_t n) -> Result<void> {
      if (len != n)
        return fail(p.error_here(Errc::mismatch,
                                 fmt::format("{} value of {} bytes, expected {}", kind_name(kind),
                                             len, n)));
      return {};
    };
    Value v;
    switch (kind) {
      case ValueKind::null: SW_CHECK(need(0)); v = Null{}; break;
      case ValueKind::u8: { SW_CHECK(need(1)); SW_TRY(x, p.read_le<std::uint8_t>()); v = x; break; }
      case ValueKind::u16: { SW_CHECK(need(2)); SW_TRY(x, p.read_le<std::uint16_t>()); v = x; break; }
      case ValueKind::u32: { SW_CHECK(need(4)); SW_TRY(x, p.read_le<std::uint32_t>()); v = x; break; }
      case ValueKind::u64: { SW_CHECK(need(8)); SW_TRY(x, p.read_le<std::uint64_t>()); v = x; break; }
      case ValueKind::i8: { SW_CHECK(need(1)); SW_TRY(x, p.read_le<std::int8_t>()); v = x; break; }
      case ValueKind::i16: { SW_CHECK(need(2)); SW_TRY(x, p.read_le<std::int16_t>()); v = x; break; }
      case ValueKind::i32: { SW_CHECK(need(4)); SW_TRY(x, p.read_le<std::int32_t>()); v = x; break; }
      case ValueKind::i64: { SW_CHECK(need(8)); SW_TRY(x, p.read_le<std::int64_t>()); v = x; break; }
      case ValueKind::boolean: {
        SW_CHECK(need(1));
        SW_TRY(x, p.read_u8());
        if (x > 1) return fail(p.error_here(Errc::invalid_value, fmt::format("bool byte {}", x)));
        v = x == 1;
        break;
      }
      case ValueKind::f64: {
        SW_CHECK(need(8));
        SW_TRY(x, p.read_le<std::uint64_t>());
        v = std::bit_cast<double>(x);
        break;
      }
      case ValueKind::blob: {
        SW_TRY(span, p.read_bytes(len));
        SW_CHECK(budget_.charge(len, p.offset(), "a blob"));
        v = Blob{std::vector<std::uint8_t>(span.begin(), span.end())};
        break;
      }
      case ValueKind::string: {
        SW_TRY(span, p.read_bytes(len));
        SW_CHECK(budget_.charge(len, p.offset(), "a string"));
        v = std::string(reinterpret_cast<const char*>(span.data()), span.size());
        break;
      }
      case ValueKind::array: {
        if (depth > opt_.limits.max_depth)
          return fail(p.error_here(Errc::limit_exceeded, "arrays nested too deep"));
        Array a;
        SW_TRY(layout_byte, p.read_u8());
        const bool is_chunked = layout_byte & kChunkedLayoutBit;
        const std::uint8_t layout = layout_byte & ~kChunkedLayoutBit;
        if (layout > static_cast<std::uint8_t>(ArrayLayout::gtree))
          return fail(p.error_here(Errc::invalid_value, fmt::format("array layout {}", layout)));
        a.layout = static_cast<ArrayLayout>(layout);
        SW_TRY(n, p.read_le<std::uint32_t>());
        if (is_chunked) {
          // Only a section's own top-level members travel in chunks.
          if (depth != 0 || in_envelope_)
            return fail(p.error_here(Errc::invalid_value, "chunked array inside a value"));
          if (n > opt_.limits.max_elements && n != kOpenCount)
            return fail(p.error_here(Errc::limit_exceeded, fmt::format("array of {} elements", n)));
          chunked_total_ = n;
          v = std::move(a);
          break;
        }
        if (n > opt_.limits.max_elements || n > p.remaining() / kValueTagSize)
          return fail(p.error_here(Errc::limit_exceeded,
                                   fmt::format("array of {} elements in {} bytes", n, p.remaining())));
        SW_CHECK(budget_.charge(std::uint64_t{n} * value_cost(), p.offset(), "an array's elements"));
        a.items.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
          auto item = value(p, depth + 1);
          if (!item) return fail(std::move(item.error().in_field(fmt::format("[{}]", i))));
          a.items.push_back(std::move(*item));
        }
        v = std::move(a);
        break;
      }
      case ValueKind::structure: {
        SW_TRY(s, structure(p, depth + 1));
        v = std::move(s);
        break;
      }
    }
    if (!p.empty()) SW_CHECK(expect_consumed(p, fmt::format("a {} value", kind_name(kind))));
    return v;
  }

  Result<void> end(Cursor c, std::uint64_t record_offset) {
    SW_TRY(nsections, c.read_le<std::uint64_t>());
    SW_TRY(offset, c.read_le<std::uint64_t>());
    SW_CHECK(expect_consumed(c, "the end record"));
    std::uint64_t seen = sections_ + skipped_sections_;
    if (nsections != seen)
      return fail(at(record_offset, Errc::mismatch,
                     fmt::format("end record counts {} sections, the stream held {}", nsections, seen)));
    if (offset != record_offset)
      return fail(at(record_offset, Errc::mismatch,
                     fmt::format("end record says it starts at {:#x}", offset)));
    return {};
  }

  struct ZstdFree {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };

  const FramedDecodeOptions opt_;  // a copy: callers may pass a temporary
  detail::StreamWindow win_;
  Bytes unpacked_;  // the last compressed record's payload
  std::unique_ptr<ZSTD_DCtx, ZstdFree> dctx_;
  Budget budget_{opt_.limits};
  std::uint64_t unpacked_charge_ = 0;  // the budget's charge for unpacked_'s record
  struct Pending {
    std::uint32_t member;
    std::uint32_t total;
    std::uint64_t arrived;
    bool open;  // count not known when the section was written (kOpenCount)
    std::string name;
  };
  std::vector<std::string> names_;
  FramedHeader header_;
  std::vector<std::string> skipped_;
  std::vector<Pending> pending_;            // chunked arrays of the last section
  std::optional<std::uint32_t> chunked_total_;
  std::size_t open_members_ = 0;            // of the last section
  std::string open_label_;                  // of the last section
  bool started_ = false, have_header_ = false, done_ = false;
  bool open_ = false;                       // the last section awaits chunks
  bool skipping_ = false;                   // chunks of a skipped section
  bool in_envelope_ = false;
  std::uint64_t sections_ = 0;              // decoded, in order
  std::uint64_t skipped_sections_ = 0;      // counted by sequence numbers and END
  std::uint64_t bytes_ = 0;                 // total size, once the end record is read
};

FramedStreamReader::FramedStreamReader(ByteSource& source, const FramedDecodeOptions& opt)
    : impl_(std::make_unique<Impl>(source, opt)) {}
FramedStreamReader::~FramedStreamReader() = default;
Result<const FramedHeader*> FramedStreamReader::header() { return impl_->header_record(); }
Result<std::optional<FramedItem>> FramedStreamReader::next() { return impl_->next(); }
const std::vector<std::string>& FramedStreamReader::skipped() const { return impl_->skipped(); }
std::uint64_t FramedStreamReader::offset() const { return impl_->offset(); }
std::size_t FramedStreamReader::buffer_high_water() const { return impl_->high_water(); }

namespace {

// Envelope records merge in order: new members are appended, a repeated
// array member gets the new items (the QEMU envelope's commands may arrive in
// several records), any other repeat is an error.
Result<void> merge_envelope(Struct& into, Struct&& more) {
  for (Member& m : more.members) {
    Value* have = nullptr;
    for (Member& old : into.members)
      if (old.name == m.name) have = &old.value;
    if (!have) {
      into.members.push_back(std::move(m));
      continue;
    }
    Array* a = have->get_if<Array>();
    Array* b = m.value.get_if<Array>();
    if (!a || !b) {
      Error e = make_error(Errc::mismatch, "envelope member sent twice");
      e.section = "envelope";
      e.field_path = m.name;
      return fail(std::move(e));
    }
    for (Value& v : b->items) a->items.push_back(std::move(v));
  }
  for (SubsectionState& sub : more.subsections) into.subsections.push_back(std::move(sub));
  return {};
}

}  // namespace

Result<FramedStream> decode_framed(ByteSpan bytes, const FramedDecodeOptions& opt) {
  SpanSource src(bytes);
  FramedStreamReader r(src, opt);
  FramedStream out;
  while (true) {
    SW_TRY(item, r.next());
    if (!item) break;
    switch (item->kind) {
      case FramedItem::Kind::envelope:
        SW_CHECK(merge_envelope(out.stream.envelope, std::move(item->envelope)));
        break;
      case FramedItem::Kind::section:
        out.provenance.push_back(std::move(item->provenance));
        out.stream.sections.push_back(std::move(item->section));
        break;
      case FramedItem::Kind::chunk: {
        Array& arr = *out.stream.sections.back().body.members[item->member].value.get_if<Array>();
        if (arr.items.empty()) arr.items.reserve(item->items.size());
        for (Value& v : item->items) arr.items.push_back(std::move(v));
        break;
      }
      case FramedItem::Kind::end: break;
    }
  }
  SW_TRY(h, r.header());
  out.header = *h;
  out.skipped = r.skipped();
  out.bytes = r.offset();
  return out;
}

}  // namespace statewire
