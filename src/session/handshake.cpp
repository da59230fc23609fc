// Handshake encodings and the destination's judgement of a Hello.
#include "statewire/handshake.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "statewire/registry.hpp"
#include "statewire/schema.hpp"
#include "statewire/transform.hpp"

namespace statewire {

namespace {

// "SWLIVE" + CR LF: a text-mode transfer or a peer speaking something else
// (an HTTP client, a QEMU stream) fails on the first 8 bytes.
constexpr std::uint8_t kHelloMagic[8] = {'S', 'W', 'L', 'I', 'V', 'E', '\r', '\n'};

void put_string(ByteWriter& w, std::string_view s) {
  w.put_be32(static_cast<std::uint32_t>(s.size()));
  w.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

Result<std::string> get_string(Cursor& c, const HandshakeLimits& lim, std::string_view what) {
  const std::uint64_t at = c.offset();
  SW_TRY(n, c.read_be32());
  if (n > lim.max_string)
    return fail(make_error(Errc::limit_exceeded,
                           fmt::format("{} of {} bytes (at most {})", what, n, lim.max_string))
                    .at(at));
  SW_TRY(bytes, c.read_bytes(n));
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Result<std::uint32_t> get_count(Cursor& c, std::size_t max, std::size_t min_item_bytes,
                                std::string_view what) {
  const std::uint64_t at = c.offset();
  SW_TRY(n, c.read_be32());
  // Each item needs at least min_item_bytes, so a count the payload cannot
  // hold is refused before anything is reserved for it.
  if (n > max || n > c.remaining() / std::max<std::size_t>(min_item_bytes, 1))
    return fail(make_error(Errc::limit_exceeded,
                           fmt::format("{} count {} (at most {}, {} bytes left)", what, n, max,
                                       c.remaining()))
                    .at(at));
  return n;
}

void put_caps(ByteWriter& w, const CapabilitySet& caps) {
  w.put_be32(static_cast<std::uint32_t>(caps.names().size()));
  for (const auto& n : caps.names()) put_string(w, n);
}

Result<CapabilitySet> get_caps(Cursor& c, const HandshakeLimits& lim) {
  SW_TRY(n, get_count(c, lim.max_capabilities, 4, "capability"));
  std::vector<std::string> names;
  names.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    SW_TRY(s, get_string(c, lim, "capability name"));
    names.push_back(std::move(s));
  }
  return CapabilitySet(std::move(names));
}

void put_sections(ByteWriter& w, const std::vector<SectionInfo>& v) {
  w.put_be32(static_cast<std::uint32_t>(v.size()));
  for (const auto& s : v) {
    put_string(w, s.name);
    w.put_be32(s.instance_id);
    w.put_be32(s.version);
    w.put_be32(s.minimum_version);
    w.put_be64(s.fingerprint);
    w.put_u8(s.may_be_missing ? 1 : 0);
  }
}

Result<std::vector<SectionInfo>> get_sections(Cursor& c, const HandshakeLimits& lim) {
  SW_TRY(n, get_count(c, lim.max_sections, 4 + 12 + 8 + 1, "section"));
  std::vector<SectionInfo> out;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    SectionInfo s;
    SW_TRY(name, get_string(c, lim, "section name"));
    if (name.empty() || name.size() > 255)
      return fail(c.error_here(Errc::invalid_value,
                               fmt::format("section name of {} bytes (1..255)", name.size())));
    s.name = std::move(name);
    SW_TRY(inst, c.read_be32());
    SW_TRY(ver, c.read_be32());
    SW_TRY(minv, c.read_be32());
    SW_TRY(fp, c.read_be64());
    SW_TRY(flags, c.read_u8());
    if (flags > 1) return fail(c.error_here(Errc::invalid_value, fmt::format("section flags {}", flags)));
    s.instance_id = inst;
    s.version = ver;
    s.minimum_version = minv;
    s.fingerprint = fp;
    s.may_be_missing = flags == 1;
    out.push_back(std::move(s));
  }
  return out;
}

Result<void> expect_end(const Cursor& c, std::string_view what) {
  if (!c.empty())
    return fail(c.error_here(Errc::invalid_value,
                             fmt::format("{} has {} bytes after its last field", what, c.remaining())));
  return {};
}

Result<void> get_magic(Cursor& c, std::string_view what) {
  SW_TRY(m, c.read_bytes(sizeof kHelloMagic));
  if (std::memcmp(m.data(), kHelloMagic, sizeof kHelloMagic) != 0)
    return fail(make_error(Errc::bad_magic, fmt::format("{} does not start with the live "
                                                        "migration magic: the peer is not a "
                                                        "statewire session", what))
                    .at(0));
  SW_TRY(proto, c.read_be16());
  if (proto != kLiveProtocolVersion)
    return fail(make_error(Errc::unsupported,
                           fmt::format("peer speaks live protocol version {}, this build speaks {}",
                                       proto, kLiveProtocolVersion))
                    .at(8));
  return {};
}

void put_magic(ByteWriter& w) {
  w.put_bytes(ByteSpan(kHelloMagic, sizeof kHelloMagic));
  w.put_be16(kLiveProtocolVersion);
}

}  // namespace

std::string SectionInfo::label() const { return fmt::format("{}/{}", name, instance_id); }

std::vector<SectionInfo> section_infos(const Registry& r) {
  std::vector<SectionInfo> out;
  const auto fps = r.fingerprints();
  for (const Registration& g : r.registrations()) {
    SectionInfo s;
    s.name = g.section;
    s.instance_id = g.instance_id;
    s.version = g.version();
    s.minimum_version = g.minimum_version();
    if (auto it = fps.find(g.section); it != fps.end()) s.fingerprint = it->second;
    s.may_be_missing = g.may_be_missing;
    out.push_back(std::move(s));
  }
  return out;
}

Bytes encode_hello(const Hello& h) {
  ByteWriter w;
  put_magic(w);
  put_string(w, h.producer);
  put_string(w, h.machine_type);
  w.put_be64(h.session_id);
  put_caps(w, h.capabilities);
  w.put_be32(h.channels);
  put_sections(w, h.sections);
  // The regions as memory_region.hpp encodes a layout, behind its length.
  const std::vector<std::uint8_t> layout = encode_layout(h.regions);
  w.put_be32(static_cast<std::uint32_t>(layout.size()));
  w.put_bytes(ByteSpan(layout.data(), layout.size()));
  return std::move(w).take();
}

Result<Hello> decode_hello(ByteSpan payload, const HandshakeLimits& lim) {
  Cursor c(payload);
  SW_CHECK(get_magic(c, "hello"));
  Hello h;
  SW_TRY(producer, get_string(c, lim, "producer"));
  SW_TRY(machine, get_string(c, lim, "machine type"));
  h.producer = std::move(producer);
  h.machine_type = std::move(machine);
  SW_TRY(id, c.read_be64());
  h.session_id = id;
  SW_TRY(caps, get_caps(c, lim));
  h.capabilities = std::move(caps);
  const std::uint64_t ch_at = c.offset();
  SW_TRY(channels, c.read_be32());
  if (channels == 0 || channels > lim.max_channels)
    return fail(make_error(Errc::limit_exceeded,
                           fmt::format("{} data channels asked (1..{})", channels, lim.max_channels))
                    .at(ch_at));
  h.channels = channels;
  SW_TRY(sections, get_sections(c, lim));
  h.sections = std::move(sections);
  const std::uint64_t layout_at = c.offset();
  SW_TRY(layout_len, c.read_be32());
  if (layout_len > c.remaining())
    return fail(make_error(Errc::truncated, fmt::format("memory layout of {} bytes, {} left", layout_len,
                                                        c.remaining()))
                    .at(layout_at));
  SW_TRY(layout, c.read_bytes(layout_len));
  if (layout.size() >= 2) {
    // The count first, so a hostile one is refused before decode_layout reserves.
    const std::uint32_t count = (std::uint32_t{layout[0]} << 8) | layout[1];
    if (count > lim.max_regions)
      return fail(make_error(Errc::limit_exceeded,
                             fmt::format("{} memory regions (at most {})", count, lim.max_regions))
                      .at(layout_at + 4));
  }
  auto regions = decode_layout(layout);
  if (!regions) {
    Error e = std::move(regions.error());
    e.offset = layout_at + 4 + e.offset.value_or(0);
    return fail(std::move(e).in_field("memory layout"));
  }
  for (const auto& r : *regions)
    if (r.name.size() > lim.max_string)
      return fail(make_error(Errc::limit_exceeded, fmt::format("a region name of {} bytes (at most {})",
                                                               r.name.size(), lim.max_string))
                      .at(layout_at + 4));
  h.regions = std::move(*regions);
  SW_CHECK(expect_end(c, "hello"));
  return h;
}

Bytes encode_welcome(const Welcome& w) {
  ByteWriter o;
  put_magic(o);
  put_string(o, w.producer);
  put_caps(o, w.capabilities);
  o.put_be32(w.channels);
  put_sections(o, w.sections);
  return std::move(o).take();
}

Result<Welcome> decode_welcome(ByteSpan payload, const HandshakeLimits& lim) {
  Cursor c(payload);
  SW_CHECK(get_magic(c, "welcome"));
  Welcome w;
  SW_TRY(producer, get_string(c, lim, "producer"));
  w.producer = std::move(producer);
  SW_TRY(caps, get_caps(c, lim));
  w.capabilities = std::move(caps);
  const std::uint64_t ch_at = c.offset();
  SW_TRY(channels, c.read_be32());
  if (channels == 0 || channels > lim.max_channels)
    return fail(make_error(Errc::limit_exceeded,
                           fmt::format("{} data channels agreed (1..{})", channels, lim.max_channels))
                    .at(ch_at));
  w.channels = channels;
  SW_TRY(sections, get_sections(c, lim));
  w.sections = std::move(sections);
  SW_CHECK(expect_end(c, "welcome"));
  return w;
}

Bytes encode_error(const Error& e) {
  ByteWriter w;
  w.put_u8(static_cast<std::uint8_t>(e.code));
  put_string(w, e.message.substr(0, 3500));
  w.put_u8(e.offset ? 1 : 0);
  w.put_be64(e.offset.value_or(0));
  put_string(w, e.section.substr(0, 300));
  put_string(w, e.field_path.substr(0, 300));
  return std::move(w).take();
}

Result<Error> decode_error(ByteSpan payload, const HandshakeLimits& lim) {
  Cursor c(payload);
  Error e;
  SW_TRY(code, c.read_u8());
  if (code > static_cast<std::uint8_t>(Errc::not_found))
    return fail(c.error_here(Errc::invalid_value, fmt::format("error code {} unknown", code)));
  e.code = static_cast<Errc>(code);
  SW_TRY(msg, get_string(c, lim, "error message"));
  e.message = std::move(msg);
  SW_TRY(has_offset, c.read_u8());
  SW_TRY(offset, c.read_be64());
  if (has_offset > 1)
    return fail(c.error_here(Errc::invalid_value, fmt::format("offset flag {}", has_offset)));
  if (has_offset) e.offset = offset;
  SW_TRY(section, get_string(c, lim, "error section"));
  SW_TRY(field, get_string(c, lim, "error field"));
  e.section = std::move(section);
  e.field_path = std::move(field);
  SW_CHECK(expect_end(c, "error"));
  return e;
}

namespace {

// Whether the transforms lead `section` from version `from` into [lo, hi]
// (breadth first over the registered version steps).
bool chain_exists(const TransformSet* ts, std::string_view section, std::uint32_t from,
                  std::uint32_t lo, std::uint32_t hi) {
  if (!ts) return false;
  std::set<std::uint32_t> seen{from};
  std::vector<std::uint32_t> frontier{from};
  const std::string_view vmsd = section.substr(section.rfind('/') == std::string_view::npos
                                                   ? 0
                                                   : section.rfind('/') + 1);
  for (std::size_t step = 0; step < 64 && !frontier.empty(); ++step) {
    std::vector<std::uint32_t> next;
    for (std::uint32_t v : frontier) {
      for (const Transform& t : ts->all()) {
        if (t.section != vmsd || t.from != v || t.from == t.to) continue;
        if (t.to >= lo && t.to <= hi) return true;
        if (seen.insert(t.to).second) next.push_back(t.to);
      }
    }
    frontier = std::move(next);
  }
  return false;
}

// Whether some transform starts at this section and version (a merge into a
// neighbour or a drop needs no counterpart on the destination).
bool has_transform_from(const TransformSet* ts, std::string_view section, std::uint32_t from) {
  if (!ts) return false;
  for (const Transform& t : ts->all())
    if (t.section == section && t.from == from) return true;
  return false;
}

}  // namespace

Result<HelloVerdict> check_hello(const Hello& h, const DestinationProfile& d) {
  std::vector<Error> problems;
  auto problem = [&](Errc code, std::string section, std::string msg) {
    Error e = make_error(code, std::move(msg));
    e.section = std::move(section);
    problems.push_back(std::move(e));
  };
  HelloVerdict v;
  if (!d.machine_types.empty() &&
      std::find(d.machine_types.begin(), d.machine_types.end(), h.machine_type) ==
          d.machine_types.end()) {
    std::string known;
    for (const auto& m : d.machine_types) known += (known.empty() ? "" : ", ") + m;
    problem(Errc::unsupported, "",
            fmt::format("machine type '{}' is unknown to the destination (it runs {})",
                        h.machine_type, known));
  }

  std::map<std::pair<std::string, std::uint32_t>, const SectionInfo*> ours;
  for (const auto& s : d.sections) ours[{s.name, s.instance_id}] = &s;
  std::set<std::pair<std::string, std::uint32_t>> sent;
  for (const auto& s : h.sections) {
    if (!sent.insert({s.name, s.instance_id}).second) {
      problem(Errc::mismatch, s.label(), "announced twice");
      continue;
    }
    auto it = ours.find({s.name, s.instance_id});
    if (it == ours.end()) {
      if (has_transform_from(d.transforms, s.name, s.version)) {
        v.sections.push_back({s.label(), s.version, s.version, true});
        v.needs_planner = true;
        continue;
      }
      problem(Errc::unknown_section, s.label(),
              fmt::format("the destination has no device {} (version {}) and no transform for it",
                          s.label(), s.version));
      continue;
    }
    const SectionInfo& o = *it->second;
    if (s.version >= o.minimum_version && s.version <= o.version) {
      v.sections.push_back({s.label(), s.version, s.version, false});
    } else if (chain_exists(d.transforms, s.name, s.version, o.minimum_version, o.version)) {
      v.sections.push_back({s.label(), s.version, o.version, true});
      v.needs_planner = true;
    } else {
      problem(s.version > o.version ? Errc::version_too_new : Errc::version_too_old, s.label(),
              fmt::format("version {} is outside what the destination reads ({}..{}) and no "
                          "transform chain leads there",
                          s.version, o.minimum_version, o.version));
    }
  }
  // A section the destination requires but the source does not send: a
  // transform chain (a split) may still create it, so with transforms in
  // play the planner and the commit decide; without, refuse now.
  if (!v.needs_planner) {
    for (const auto& o : d.sections)
      if (!o.may_be_missing && !sent.count({o.name, o.instance_id}))
        problem(Errc::not_found, o.label(),
                fmt::format("the destination requires {} and the source does not send it",
                            o.label()));
  }

  // Every difference, by region name; "here" is the destination.
  if (auto layouts = check_layout(d.regions, h.regions); !layouts)
    problem(Errc::mismatch, "", std::move(layouts.error().message));

  if (!problems.empty()) {
    Error first = problems.front();
    if (problems.size() > 1) {
      std::string all;
      for (const auto& p : problems) all += "; " + p.to_string();
      first.message = fmt::format("{} problems{}", problems.size(), all);
    }
    return fail(std::move(first));
  }

  v.welcome.capabilities = intersect(h.capabilities, d.capabilities);
  const bool multi = v.welcome.capabilities.contains(caps::kMultiChannel);
  v.welcome.channels = multi ? std::max<std::uint32_t>(1, std::min(h.channels, d.max_channels)) : 1;
  v.welcome.sections = d.sections;
  return v;
}

}  // namespace statewire
