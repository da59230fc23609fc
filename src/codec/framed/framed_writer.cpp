// Writes the framed format (layout in framed_layout.hpp, docs/framed-format.md).
#include <fmt/format.h>
#include <lz4.h>
#include <zstd.h>

#include <bit>
#include <unordered_map>

#include "codec/framed/framed_layout.hpp"
#include "core/crc32c.hpp"
#include "statewire/framed.hpp"

namespace statewire {

namespace {

using namespace framed;

class FramedWriter {
 public:
  explicit FramedWriter(const FramedEncodeOptions& opt) : opt_(opt) {}

  Result<Bytes> write(const StateStream& s) {
    out_.put_bytes(ByteSpan(kMagic, sizeof kMagic));
    out_.put_le<std::uint16_t>(kFramedFormatVersion);
    SW_CHECK(header());
    if (!s.envelope.members.empty() || !s.envelope.subsections.empty()) {
      ByteWriter env;
      auto r = structure(s.envelope, env);
      if (!r) return fail(std::move(r.error().in_section("envelope")));
      if (!pending_names_.empty()) names_record();
      SW_CHECK(record(kEnvelope, kFlagMandatory, env.bytes(), true));
    }
    for (const Section& sec : s.sections) {
      ByteWriter body;
      SW_CHECK(section_payload(sec, body));
      // New names first: a reader must know every name before the section uses it.
      if (!pending_names_.empty()) names_record();
      bool optional = opt_.optional_section && opt_.optional_section(sec);
      auto r = record(kSection, optional ? 0 : kFlagMandatory, body.bytes(), true);
      if (!r) return fail(std::move(r.error().in_section(sec.label())));
      auto c = chunks(sec, optional);
      if (!c) return fail(std::move(c.error().in_section(sec.label())));
      ++sections_;
    }
    ByteWriter end;
    end.put_le<std::uint64_t>(sections_);
    end.put_le<std::uint64_t>(out_.size());
    SW_CHECK(record(kEnd, kFlagMandatory, end.bytes(), false));
    return std::move(out_).take();
  }

 private:
  static void put_str(ByteWriter& w, std::string_view s) {
    w.put_le<std::uint16_t>(static_cast<std::uint16_t>(s.size()));
    w.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  }
  static Result<void> check_str(std::string_view s, std::string_view what) {
    if (s.size() > 0xffff)
      return fail(Errc::limit_exceeded, fmt::format("{} longer than 65535 bytes", what));
    return {};
  }

  Result<void> header() {
    const FramedHeader& h = opt_.header;
    ByteWriter w;
    for (const auto* s : {&h.producer, &h.producer_version, &h.machine_type}) {
      SW_CHECK(check_str(*s, "header string"));
      put_str(w, *s);
    }
    w.put_le<std::uint16_t>(static_cast<std::uint16_t>(h.capabilities.size()));
    for (const auto& c : h.capabilities) {
      SW_CHECK(check_str(c, "capability"));
      put_str(w, c);
    }
    w.put_le<std::uint16_t>(static_cast<std::uint16_t>(h.properties.size()));
    for (const auto& [k, v] : h.properties) {
      SW_CHECK(check_str(k, "property name"));
      SW_CHECK(check_str(v, "property value"));
      put_str(w, k);
      put_str(w, v);
    }
    return record(kHeader, kFlagMandatory, w.bytes(), false);
  }

  void names_record() {
    ByteWriter w;
    w.put_le<std::uint32_t>(static_cast<std::uint32_t>(names_.size() - pending_names_.size()));
    w.put_le<std::uint32_t>(static_cast<std::uint32_t>(pending_names_.size()));
    for (const auto& n : pending_names_) put_str(w, n);
    pending_names_.clear();
    (void)record(kNames, kFlagMandatory, w.bytes(), false);
  }

  Result<std::uint32_t> name_index(const std::string& name) {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second;
    SW_CHECK(check_str(name, "field name"));
    auto idx = static_cast<std::uint32_t>(names_.size());
    names_.emplace(name, idx);
    pending_names_.push_back(name);
    return idx;
  }

  Result<void> section_payload(const Section& sec, ByteWriter& w) {
    SW_CHECK(check_str(sec.name, "section name"));
    put_str(w, sec.name);
    w.put_le<std::uint32_t>(static_cast<std::uint32_t>(sections_));  // sequence
    w.put_le<std::uint32_t>(sec.instance_id);
    w.put_le<std::uint32_t>(sec.version_id);
    w.put_u8(static_cast<std::uint8_t>(sec.kind));
    w.put_le<std::uint32_t>(sec.section_id);
    auto fp = opt_.fingerprints.find(sec.name);
    w.put_le<std::uint64_t>(fp == opt_.fingerprints.end() ? 0 : fp->second);
    auto r = structure(sec.body, w, /*top=*/true);
    if (!r) return fail(std::move(r.error().in_section(sec.label())));
    return {};
  }

  // Bulk memory (a top-level array of more than kChunkItems elements, such
  // as QEMU's RAM page records) leaves the section record as a placeholder
  // and follows it in CHUNK records, so memory can be read, and a section
  // streamed, without holding or parsing everything at once.
  static const Array* chunked(const Value& v) {
    const Array* a = v.get_if<Array>();
    return a && a->items.size() > kChunkItems ? a : nullptr;
  }

  Result<void> chunks(const Section& sec, bool optional) {
    for (std::size_t m = 0; m < sec.body.members.size(); ++m) {
      const Array* a = chunked(sec.body.members[m].value);
      if (!a) continue;
      for (std::size_t first = 0; first < a->items.size(); first += kChunkItems) {
        std::size_t n = std::min(kChunkItems, a->items.size() - first);
        ByteWriter w;
        w.put_le<std::uint32_t>(static_cast<std::uint32_t>(m));
        w.put_le<std::uint32_t>(static_cast<std::uint32_t>(first));
        w.put_le<std::uint32_t>(static_cast<std::uint32_t>(n));
        for (std::size_t i = first; i < first + n; ++i) {
          auto r = value(a->items[i], w);
          if (!r) {
            return fail(std::move(r.error().in_field(
                fmt::format("{}[{}]", sec.body.members[m].name, i))));
          }
        }
        if (!pending_names_.empty()) names_record();
        SW_CHECK(record(kChunk, optional ? 0 : kFlagMandatory, w.bytes(), true));
      }
    }
    return {};
  }

  Result<void> structure(const Struct& s, ByteWriter& w, bool top = false) {
    w.put_le<std::uint32_t>(static_cast<std::uint32_t>(s.members.size()));
    for (const Member& m : s.members) {
      SW_TRY(idx, name_index(m.name));
      w.put_le<std::uint32_t>(idx);
      if (const Array* a = top ? chunked(m.value) : nullptr) {
        // Placeholder: layout with the chunked bit, the element count, no items.
        w.put_u8(static_cast<std::uint8_t>(ValueKind::array));
        w.put_le<std::uint32_t>(5);
        w.put_u8(static_cast<std::uint8_t>(a->layout) | kChunkedLayoutBit);
        w.put_le<std::uint32_t>(static_cast<std::uint32_t>(a->items.size()));
        continue;
      }
      auto r = value(m.value, w);
      if (!r) return fail(std::move(r.error().in_field(m.name)));
    }
    w.put_le<std::uint32_t>(static_cast<std::uint32_t>(s.subsections.size()));
    for (const SubsectionState& sub : s.subsections) {
      SW_CHECK(check_str(sub.name, "subsection name"));
      put_str(w, sub.name);
      w.put_le<std::uint32_t>(sub.version_id);
      std::size_t len_at = w.size();
      w.put_le<std::uint32_t>(0);
      auto r = structure(sub.body, w);
      if (!r) return fail(std::move(r.error().in_field(sub.name)));
      w.patch_le<std::uint32_t>(len_at, static_cast<std::uint32_t>(w.size() - len_at - 4));
    }
    return {};
  }

  Result<void> value(const Value& v, ByteWriter& w) {
    w.put_u8(static_cast<std::uint8_t>(v.kind()));
    std::size_t len_at = w.size();
    w.put_le<std::uint32_t>(0);
    Result<void> r = std::visit(
        [&](const auto& x) -> Result<void> {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Null>) {
          } else if constexpr (std::is_same_v<T, bool>) {
            w.put_u8(x ? 1 : 0);
          } else if constexpr (std::is_same_v<T, double>) {
            w.put_le(std::bit_cast<std::uint64_t>(x));
          } else if constexpr (std::is_integral_v<T>) {
            w.put_le(x);
          } else if constexpr (std::is_same_v<T, Blob>) {
            w.put_bytes(x.bytes);
          } else if constexpr (std::is_same_v<T, std::string>) {
            w.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(x.data()), x.size()));
          } else if constexpr (std::is_same_v<T, Array>) {
            w.put_u8(static_cast<std::uint8_t>(x.layout));
            w.put_le<std::uint32_t>(static_cast<std::uint32_t>(x.items.size()));
            for (std::size_t i = 0; i < x.items.size(); ++i) {
              auto e = value(x.items[i], w);
              if (!e) return fail(std::move(e.error().in_field(fmt::format("[{}]", i))));
            }
          } else if constexpr (std::is_same_v<T, Struct>) {
            return structure(x, w);
          }
          return {};
        },
        v.v);
    SW_CHECK(r);
    std::size_t len = w.size() - len_at - 4;
    if (len > 0xffffffffu) return fail(Errc::limit_exceeded, "value larger than 4 GiB");
    w.patch_le<std::uint32_t>(len_at, static_cast<std::uint32_t>(len));
    return {};
  }

  Result<void> record(std::uint8_t type, std::uint8_t flags, const Bytes& payload,
                      bool compressible) {
    const Bytes* stored = &payload;
    Bytes packed;
    if (compressible && opt_.compression != Compression::none && payload.size() >= 64) {
      SW_CHECK(compress(payload, packed));
      if (packed.size() < payload.size()) {
        stored = &packed;
        flags |= opt_.compression == Compression::zstd ? kFlagZstd : kFlagLz4;
      }
    }
    if (stored->size() > 0xffffffffu) return fail(Errc::limit_exceeded, "record larger than 4 GiB");
    std::size_t start = out_.size();
    out_.put_u8(type);
    out_.put_u8(flags);
    out_.put_le<std::uint32_t>(static_cast<std::uint32_t>(stored->size()));
    out_.put_bytes(*stored);
    std::uint32_t crc = detail::crc32c(0, out_.bytes().data() + start, out_.size() - start);
    out_.put_le<std::uint32_t>(crc);
    return {};
  }

  Result<void> compress(const Bytes& raw, Bytes& packed) {
    packed.clear();
    ByteWriter w(std::move(packed));
    w.put_le<std::uint32_t>(static_cast<std::uint32_t>(raw.size()));
    if (opt_.compression == Compression::zstd) {
      std::size_t bound = ZSTD_compressBound(raw.size());
      std::size_t at = w.size();
      w.grow(bound);
      Bytes b = std::move(w).take();
      std::size_t n = ZSTD_compress(b.data() + at, bound, raw.data(), raw.size(), opt_.zstd_level);
      if (ZSTD_isError(n)) return fail(Errc::invalid_value, ZSTD_getErrorName(n));
      b.resize(at + n);
      packed = std::move(b);
    } else {
      int bound = LZ4_compressBound(static_cast<int>(raw.size()));
      std::size_t at = w.size();
      w.grow(static_cast<std::size_t>(bound));
      Bytes b = std::move(w).take();
      int n = LZ4_compress_default(reinterpret_cast<const char*>(raw.data()),
                                   reinterpret_cast<char*>(b.data() + at),
                                   static_cast<int>(raw.size()), bound);
      if (n <= 0) return fail(Errc::invalid_value, "lz4 compression failed");
      b.resize(at + static_cast<std::size_t>(n));
      packed = std::move(b);
    }
    return {};
  }

  const FramedEncodeOptions& opt_;
  ByteWriter out_;
  std::unordered_map<std::string, std::uint32_t> names_;
  std::vector<std::string> pending_names_;
  std::uint64_t sections_ = 0;
};

}  // namespace

bool is_framed(ByteSpan bytes) noexcept {
  return bytes.size() >= sizeof kMagic && std::equal(kMagic, kMagic + sizeof kMagic, bytes.begin());
}

Result<Bytes> encode_framed(const StateStream& s, const FramedEncodeOptions& opt) {
  FramedWriter w(opt);
  return w.write(s);
}

}  // namespace statewire
