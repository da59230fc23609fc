// The configuration section of a QEMU stream (layout in configuration.hpp).
#include "codec/qemu/configuration.hpp"

#include <fmt/format.h>

#include "statewire/vmstate_body.hpp"

namespace statewire::qemu::detail {

namespace {

constexpr std::string_view kPrefix = "configuration/";

template <class T>
Result<T> with_field(Result<T> r, std::string_view field) {
  if (!r) return fail(std::move(r.error().in_field(field).in_section("configuration")));
  return r;
}

Value blob_of(ByteSpan s) { return Value(Blob{std::vector<std::uint8_t>(s.begin(), s.end())}); }

}  // namespace

Result<Configuration> decode_configuration(Cursor& cur) {
  Configuration c;
  SW_TRY(len, with_field(cur.read_be32(), "len"));
  // A machine type name; QEMU's are under 40 bytes.
  if (len > 4096) {
    Error e = cur.error_here(Errc::limit_exceeded,
                             fmt::format("machine name of {} bytes, expected at most 4096", len));
    return fail(std::move(e.in_field("len").in_section("configuration")));
  }
  SW_TRY(name, with_field(cur.read_bytes(len), "name"));
  c.body.members.push_back({"len", Value(len)});
  c.body.members.push_back({"name", blob_of(name)});

  // Subsections: peeked like QEMU does; a name outside "configuration/" ends
  // the list and is left for the caller (who will reject a stray 0x05).
  while (cur.remaining() >= 2 && *cur.peek(0) == kSubsectionMarker) {
    std::size_t nlen = *cur.peek(1);
    if (cur.remaining() < 2 + nlen) break;
    Cursor probe = cur;
    (void)probe.skip(1);
    std::string sname = *probe.read_counted_string();
    if (sname.compare(0, kPrefix.size(), kPrefix) != 0) break;
    cur = probe;
    SW_TRY(version, with_field(cur.read_be32(), sname + ".version_id"));
    SubsectionState sub;
    sub.name = sname;
    sub.version_id = version;
    if (sname == "configuration/target-page-bits") {
      SW_TRY(bits, with_field(cur.read_be32(), sname + ".target_page_bits"));
      if (bits < 9 || bits > 30) {
        Error e = cur.error_here(Errc::invalid_value,
                                 fmt::format("target page bits {}, expected 9..30", bits));
        return fail(std::move(e.in_field(sname).in_section("configuration")));
      }
      sub.body.members.push_back({"target_page_bits", Value(bits)});
      c.target_page_bits = bits;
    } else if (sname == "configuration/capabilities") {
      SW_TRY(count, with_field(cur.read_be32(), sname + ".caps_count"));
      // Each capability takes at least one byte: refuse counts the input cannot hold.
      if (count > cur.remaining()) {
        Error e = cur.error_here(Errc::truncated,
                                 fmt::format("{} capabilities, {} bytes left", count,
                                             cur.remaining()));
        return fail(std::move(e.in_field(sname + ".caps_count").in_section("configuration")));
      }
      sub.body.members.push_back({"caps_count", Value(count)});
      Array caps;
      for (std::uint32_t i = 0; i < count; ++i) {
        std::string f = fmt::format("{}.capabilities[{}]", sname, i);
        SW_TRY(clen, with_field(cur.read_u8(), f));
        SW_TRY(cname, with_field(cur.read_bytes(clen), f));
        Struct cap;
        cap.members.push_back({"len", Value(clen)});
        cap.members.push_back({"name", blob_of(cname)});
        caps.items.push_back(Value(std::move(cap)));
      }
      sub.body.members.push_back({"capabilities", Value(std::move(caps))});
    } else if (sname == "configuration/uuid") {
      SW_TRY(uuid, with_field(cur.read_bytes(16), sname + ".uuid"));
      sub.body.members.push_back({"uuid", blob_of(uuid)});
    } else {
      Error e = cur.error_here(Errc::unknown_subsection,
                               fmt::format("unknown configuration subsection '{}'", sname));
      return fail(std::move(e.in_section("configuration")));
    }
    c.body.subsections.push_back(std::move(sub));
  }
  return c;
}

}  // namespace statewire::qemu::detail
