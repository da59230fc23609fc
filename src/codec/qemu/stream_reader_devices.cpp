// The QEMU stream reader's device bodies: the schema sources tried in the
// caller's order on exactly the section's bytes, else the body kept opaque.
#include "codec/qemu/stream_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace statewire::qemu {

using detail::ctx;
using detail::fail_at;
using detail::TrailerDevice;

const Description* QemuStreamReader::Impl::find_dump(const std::string& idstr) const {
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

const Description* QemuStreamReader::Impl::find_registered(const std::string& idstr) const {
  for (std::size_t p = 0;;) {
    std::string_view tail = std::string_view(idstr).substr(p);
    for (const auto& d : opt_.registered)
      if (d && d->name == tail) return d.get();
    std::size_t slash = idstr.find('/', p);
    if (slash == std::string::npos) return nullptr;
    p = slash + 1;
  }
}

Result<std::optional<QemuStreamReader::Impl::Attempt>>
QemuStreamReader::Impl::try_decode(const Description& d, const SectionHeader& h,
                                   std::optional<std::uint64_t> end, std::string& why,
                                   const BodyDecodeOptions* with) {
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

Result<std::optional<QemuStreamReader::Impl::Attempt>>
QemuStreamReader::Impl::try_decode_dump(const Description& d, const SectionHeader& h,
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

Result<void> QemuStreamReader::Impl::device_body(const SectionHeader& h, const std::string& label,
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

}  // namespace statewire::qemu
