// The QEMU stream reader's section records: headers, footers, and where a
// section ends when nothing says so (a footer followed by a plausible record).
#include "codec/qemu/stream_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace statewire::qemu {

using detail::ctx;
using detail::fail_at;
using detail::kind_label;
using detail::kRecordProbe;
using detail::LiveSection;

Result<void> QemuStreamReader::Impl::section(std::uint8_t type, std::uint64_t off) {
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

Result<void> QemuStreamReader::Impl::finish_section(SectionSummary& sum, const std::string& label) {
  sum.body_size = win_.offset() - sum.header.body_offset;
  SW_CHECK(footer(sum.header, label, sum));
  return v_->on_section_end(sum);
}

Result<bool> QemuStreamReader::Impl::footer_at(std::uint64_t p, std::uint32_t id) {
  SW_TRY(visible, see(p + 5));
  return visible && at(p) == 0x7E && be32(p + 1) == id;
}

Result<void> QemuStreamReader::Impl::footer(const SectionHeader& h, const std::string& label,
                                            SectionSummary& sum) {
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

Result<bool> QemuStreamReader::Impl::plausible_record(std::uint64_t p) {
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

bool QemuStreamReader::Impl::cut_record(std::uint64_t p) const {
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

Result<std::optional<std::uint64_t>> QemuStreamReader::Impl::scan_footer(std::uint64_t from,
                                                                         std::uint32_t id) {
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

}  // namespace statewire::qemu
