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
//
// This file: the stream header, the trailer, the record loop and commands, and the
// public calls; the reader's other parts are listed in stream_reader.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include <string.h>  // memrchr

#include "codec/qemu/configuration.hpp"
#include "codec/qemu/stream_reader.hpp"

namespace statewire::qemu {

using detail::ctx;
using detail::fail_at;

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

Result<void> QemuStreamReader::Impl::header() {
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

Result<void> QemuStreamReader::Impl::locate_trailer_ahead() {
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

Result<void> QemuStreamReader::Impl::adopt_trailer(ByteSpan bytes, std::uint64_t off) {
  if (bytes.size() < 6 || bytes[0] != 0x00 || bytes[1] != 0x06) return {};
  const std::uint32_t len = std::uint32_t(bytes[2]) << 24 | std::uint32_t(bytes[3]) << 16 |
                            std::uint32_t(bytes[4]) << 8 | std::uint32_t(bytes[5]);
  if (6 + std::uint64_t(len) != bytes.size()) return {};
  trailer_text_.assign(reinterpret_cast<const char*>(bytes.data() + 6), len);
  SW_TRY(t, detail::parse_trailer(trailer_text_, off + 1));
  trailer_ = std::move(t);
  return {};
}

Result<void> QemuStreamReader::Impl::probe_trailer() {
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

Result<bool> QemuStreamReader::Impl::record() {
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

Result<void> QemuStreamReader::Impl::after_eof() {
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

Result<void> QemuStreamReader::Impl::trailer_damaged(Error e) {
  if (e.code == Errc::limit_exceeded) return fail(std::move(e));
  trailer_damage_reported_ = true;
  e.message += "; the trailer is ignored, device sections use the other schema sources";
  return v_->on_warning(e);
}

Result<void> QemuStreamReader::Impl::command(std::uint64_t off) {
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
