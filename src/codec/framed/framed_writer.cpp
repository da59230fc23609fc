// Writes the framed format (layout in framed_layout.hpp, docs/framed-format.md).
#include <fmt/format.h>
#include <lz4.h>
#include <zstd.h>

#include <bit>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>

#include "codec/framed/framed_layout.hpp"
#include "core/crc32c.hpp"
#include "statewire/framed.hpp"

namespace statewire {

namespace {

using namespace framed;

// An upper estimate of the encoded size, so the output grows once: growing
// a large buffer by doubling costs copies and page faults.
std::size_t estimate(const Value& v);
std::size_t estimate(const Struct& s) {
  std::size_t n = 8;
  for (const Member& m : s.members) n += 4 + estimate(m.value);
  for (const SubsectionState& sub : s.subsections) n += 16 + sub.name.size() + estimate(sub.body);
  return n;
}
std::size_t estimate(const Value& v) {
  if (const Blob* b = v.get_if<Blob>()) return kValueTagSize + b->bytes.size();
  if (const std::string* str = v.get_if<std::string>()) return kValueTagSize + str->size();
  if (const Array* a = v.get_if<Array>()) {
    std::size_t n = kValueTagSize + 5;
    for (const Value& item : a->items) n += estimate(item);
    return n;
  }
  if (const Struct* st = v.get_if<Struct>()) return kValueTagSize + estimate(*st);
  return kValueTagSize + 8;
}


}  // namespace

class FramedStreamWriter::Impl {
 public:
  Impl(const FramedEncodeOptions& opt, ByteSink* sink) : opt_(opt), sink_(sink) {}

  void reserve(std::size_t n) { out_.reserve(n); }
  Bytes take() && { return std::move(out_).take(); }

  Result<void> begin() {
    out_.put_bytes(ByteSpan(kMagic, sizeof kMagic));
    out_.put_le<std::uint16_t>(kFramedFormatVersion);
    SW_CHECK(header());
    return flush_if_big();
  }

  Result<void> envelope(const Struct& env) {
    if (env.members.empty() && env.subsections.empty()) return {};
    ByteWriter w;
    auto r = structure(env, w);
    if (!r) return fail(std::move(r.error().in_section("envelope")));
    if (!pending_names_.empty()) names_record();
    SW_CHECK(record(kEnvelope, kFlagMandatory, w.bytes(), true));
    return flush_if_big();
  }

  Result<void> section(const Section& sec) {
    SW_CHECK(close_open());
    bool optional = opt_.optional_section && opt_.optional_section(sec);
    auto r = in_place(kSection, optional ? 0 : kFlagMandatory,
                      [&](ByteWriter& w) { return section_payload(sec, w); });
    if (!r) return fail(std::move(r.error().in_section(sec.label())));
    auto c = chunks(sec, optional);
    if (!c) return fail(std::move(c.error().in_section(sec.label())));
    ++sections_;
    return flush_if_big();
  }

  Result<void> begin_section(const Section& head, std::size_t bulk_member) {
    SW_CHECK(close_open());
    if (bulk_member >= head.body.members.size() || !head.body.members[bulk_member].value.get_if<Array>())
      return fail(Errc::invalid_value, fmt::format("section {}: member {} is not an array",
                                                   head.label(), bulk_member));
    open_optional_ = opt_.optional_section && opt_.optional_section(head);
    open_member_ = bulk_member;
    open_label_ = head.label();
    open_name_ = head.body.members[bulk_member].name;
    auto r = in_place(kSection, open_optional_ ? 0 : kFlagMandatory,
                      [&](ByteWriter& w) { return section_payload(head, w); });
    if (!r) {
      open_member_.reset();
      return fail(std::move(r.error().in_section(head.label())));
    }
    open_items_ = 0;
    chunk_start_.reset();
    ++sections_;
    return flush_if_big();
  }

  // The element goes straight into the CHUNK record being built; a full
  // chunk is closed (compressed, checksummed) and may go to the sink.
  Result<void> bulk_item(const Value& v) {
    if (!open_member_) return fail(Errc::invalid_value, "bulk element with no open section");
    if (!chunk_start_) {
      chunk_start_ = begin_record(kChunk, open_optional_ ? 0 : kFlagMandatory);
      out_.put_le<std::uint32_t>(static_cast<std::uint32_t>(*open_member_));
      out_.put_le<std::uint32_t>(static_cast<std::uint32_t>(open_items_));
      out_.put_le<std::uint32_t>(0);  // element count, patched when the chunk closes
      chunk_items_ = 0;
    }
    auto r = value(v, out_);
    if (!r)
      return fail(std::move(
          r.error().in_field(fmt::format("{}[{}]", open_name_, open_items_)).in_section(open_label_)));
    ++open_items_;
    if (++chunk_items_ == kChunkItems) SW_CHECK(close_chunk());
    return {};
  }

  Result<void> end_section() {
    if (!open_member_) return fail(Errc::invalid_value, "end of a section that is not open");
    return close_open();
  }

  Result<void> finish() {
    SW_CHECK(close_open());
    ByteWriter end;
    end.put_le<std::uint64_t>(sections_);
    end.put_le<std::uint64_t>(flushed_ + out_.size());
    SW_CHECK(record(kEnd, kFlagMandatory, end.bytes(), false));
    return flush();
  }

 private:
  Result<void> close_chunk() {
    if (!chunk_start_) return {};
    const std::size_t start = *chunk_start_;
    chunk_start_.reset();
    out_.patch_le<std::uint32_t>(start + kRecordHeaderSize + 8, static_cast<std::uint32_t>(chunk_items_));
    SW_CHECK(end_record(start, kChunk, open_optional_ ? 0 : kFlagMandatory));
    return flush_if_big();
  }

  Result<void> close_open() {
    if (!open_member_) return {};
    SW_CHECK(close_chunk());
    open_member_.reset();
    return {};
  }

  Result<void> flush_if_big() {
    if (sink_ && !chunk_start_ && out_.size() >= kFlushAt) return flush();
    return {};
  }
  Result<void> flush() {
    if (!sink_ || out_.size() == 0) return {};
    SW_CHECK(sink_->write(out_.bytes()));
    flushed_ += out_.size();
    out_.truncate(0);
    return {};
  }

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

  // Structs of one kind repeat their names in the same positions (RAM page
  // records, array elements), so a per-position guess saves most lookups.
  Result<std::uint32_t> name_index(const std::string& name, std::size_t position) {
    if (position < recent_.size() && recent_[position].first == name) return recent_[position].second;
    SW_TRY(idx, lookup(name));
    if (position >= recent_.size()) recent_.resize(position + 1);
    recent_[position] = {name, idx};
    return idx;
  }

  Result<std::uint32_t> lookup(const std::string& name) {
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
        SW_CHECK(in_place(kChunk, optional ? 0 : kFlagMandatory, [&](ByteWriter& w) -> Result<void> {
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
          return {};
        }));
        SW_CHECK(flush_if_big());
      }
    }
    return {};
  }


  Result<void> structure(const Struct& s, ByteWriter& w, bool top = false) {
    w.put_le<std::uint32_t>(static_cast<std::uint32_t>(s.members.size()));
    for (std::size_t pos = 0; pos < s.members.size(); ++pos) {
      const Member& m = s.members[pos];
      SW_TRY(idx, name_index(m.name, pos));
      w.put_le<std::uint32_t>(idx);
      const bool open = top && open_member_ == pos;
      if (const Array* a = open ? m.value.get_if<Array>() : top ? chunked(m.value) : nullptr) {
        // Placeholder: layout with the chunked bit, the element count (open:
        // not known yet, the chunks until the next record tell), no items.
        if (!a->markers.empty())
          return fail(std::move(make_error(Errc::unsupported,
                                           "list marker bytes other than 0x01 cannot be "
                                           "carried by the framed format")
                                    .in_field(m.name)));
        w.put_u8(static_cast<std::uint8_t>(ValueKind::array));
        w.put_le<std::uint32_t>(5);
        w.put_u8(static_cast<std::uint8_t>(a->layout) | kChunkedLayoutBit);
        w.put_le<std::uint32_t>(open ? kOpenCount : static_cast<std::uint32_t>(a->items.size()));
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
    // Scalars and blobs, most of any stream: tag and payload in one append.
    if (std::size_t width = v.scalar_width()) {
      std::uint8_t* p = w.grow(kValueTagSize + width);
      p[0] = static_cast<std::uint8_t>(v.kind());
      std::uint32_t len = static_cast<std::uint32_t>(width);
      std::memcpy(p + 1, &len, 4);
      std::uint64_t bits = 0;
      if (const double* d = v.get_if<double>())
        bits = std::bit_cast<std::uint64_t>(*d);
      else
        v.as_u64(bits);  // integers and bool; little-endian host: low bytes first
      std::memcpy(p + kValueTagSize, &bits, width);
      return {};
    }
    if (const Blob* b = v.get_if<Blob>()) {
      if (b->bytes.size() > 0xffffffffu) return fail(Errc::limit_exceeded, "value larger than 4 GiB");
      std::uint8_t* p = w.grow(kValueTagSize + b->bytes.size());
      p[0] = static_cast<std::uint8_t>(ValueKind::blob);
      std::uint32_t len = static_cast<std::uint32_t>(b->bytes.size());
      std::memcpy(p + 1, &len, 4);
      if (len) std::memcpy(p + kValueTagSize, b->bytes.data(), len);
      return {};
    }
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
            if (!x.markers.empty())  // the framed layout has no place for them
              return fail(Errc::unsupported,
                          "list marker bytes other than 0x01 cannot be carried by the framed format");
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

  // Writes a compressible record's payload straight into the output (no copy
  // of bulk data), then its length and CRC. Names the payload introduced go
  // in a NAMES record inserted before it: a reader must know a name before use.
  template <class Fill>
  Result<void> in_place(std::uint8_t type, std::uint8_t flags, Fill&& fill) {
    const std::size_t start = begin_record(type, flags);
    auto filled = fill(out_);
    if (!filled) {
      out_.truncate(start);
      return filled;
    }
    return end_record(start, type, flags);
  }

  std::size_t begin_record(std::uint8_t type, std::uint8_t flags) {
    const std::size_t start = out_.size();
    out_.put_u8(type);
    out_.put_u8(flags);
    out_.put_le<std::uint32_t>(0);
    return start;
  }

  // Closes the record begun at `start` whose payload runs to the end of out_.
  Result<void> end_record(std::size_t start, std::uint8_t type, std::uint8_t flags) {
    const std::size_t payload_at = start + kRecordHeaderSize;
    const std::size_t len = out_.size() - payload_at;
    if (opt_.compression != Compression::none && len >= 64) {
      // Compressed from where it was built; kept there (no copy) when
      // compression does not gain.
      const ByteSpan payload(out_.bytes().data() + payload_at, len);
      if (worth_compressing(payload)) {
        SW_TRY(packed, compress(payload));
        if (packed.size() < len) {
          out_.truncate(start);
          if (!pending_names_.empty()) names_record();
          return stored_record(type, flags | compressed_flag(), packed);
        }
      }
    }
    if (len > 0xffffffffu) return fail(Errc::limit_exceeded, "record larger than 4 GiB");
    out_.patch_le<std::uint32_t>(start + 2, static_cast<std::uint32_t>(len));
    out_.put_le<std::uint32_t>(detail::crc32c(0, out_.bytes().data() + start, out_.size() - start));
    if (!pending_names_.empty()) {
      ByteWriter body = std::move(out_);
      out_ = ByteWriter();
      names_record();
      Bytes names = std::move(out_).take();
      out_ = std::move(body);
      out_.insert(start, names);
    }
    return {};
  }

  Result<void> record(std::uint8_t type, std::uint8_t flags, ByteSpan payload,
                      bool compressible) {
    if (compressible && opt_.compression != Compression::none && payload.size() >= 64 &&
        worth_compressing(payload)) {
      SW_TRY(packed, compress(payload));
      if (packed.size() < payload.size()) return stored_record(type, flags | compressed_flag(), packed);
    }
    return stored_record(type, flags, payload);
  }

  std::uint8_t compressed_flag() const {
    return opt_.compression == Compression::zstd ? kFlagZstd : kFlagLz4;
  }

  // Random or already compressed bulk (a guest's encrypted pages, media)
  // costs a full compression pass for nothing: a large payload is first
  // tried on a sample of kSamples slices spread over it, and stored raw when
  // the sample gains less than 1/32. Smaller payloads are always tried.
  bool worth_compressing(ByteSpan payload) {
    static constexpr std::size_t kSamples = 4, kSlice = 4096;
    if (payload.size() < kSampleFrom) return true;
    std::uint8_t* s = sample_.get(kSamples * kSlice);
    const std::size_t step = (payload.size() - kSlice) / (kSamples - 1);
    for (std::size_t i = 0; i < kSamples; ++i)
      std::memcpy(s + i * kSlice, payload.data() + i * step, kSlice);
    auto packed = compress(ByteSpan(s, kSamples * kSlice));
    if (!packed) return true;  // the full attempt reports the error
    return packed->size() < kSamples * kSlice - kSamples * kSlice / 32;
  }

  Result<void> stored_record(std::uint8_t type, std::uint8_t flags, ByteSpan stored) {
    if (stored.size() > 0xffffffffu) return fail(Errc::limit_exceeded, "record larger than 4 GiB");
    std::size_t start = out_.size();
    out_.put_u8(type);
    out_.put_u8(flags);
    out_.put_le<std::uint32_t>(static_cast<std::uint32_t>(stored.size()));
    out_.put_bytes(stored);
    std::uint32_t crc = detail::crc32c(0, out_.bytes().data() + start, out_.size() - start);
    out_.put_le<std::uint32_t>(crc);
    return {};
  }

  // u32 raw length + the compressed bytes, in a buffer reused by the next record.
  Result<ByteSpan> compress(ByteSpan raw) {
    const std::uint32_t raw_len = static_cast<std::uint32_t>(raw.size());
    if (opt_.compression == Compression::zstd) {
      const std::size_t bound = ZSTD_compressBound(raw.size());
      std::uint8_t* p = packed_.get(4 + bound);
      std::memcpy(p, &raw_len, 4);  // little-endian host (cursor.hpp)
      if (!zctx_) zctx_.reset(ZSTD_createCCtx());
      if (!zctx_) return fail(Errc::invalid_value, "cannot create a zstd context");
      // One context for every record: ZSTD_compress would set up a new one each time.
      std::size_t n = ZSTD_compressCCtx(zctx_.get(), p + 4, bound, raw.data(), raw.size(),
                                        opt_.zstd_level);
      if (ZSTD_isError(n)) return fail(Errc::invalid_value, ZSTD_getErrorName(n));
      return ByteSpan(p, 4 + n);
    }
    const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
    std::uint8_t* p = packed_.get(4 + static_cast<std::size_t>(bound));
    std::memcpy(p, &raw_len, 4);
    int n = LZ4_compress_default(reinterpret_cast<const char*>(raw.data()),
                                 reinterpret_cast<char*>(p + 4), static_cast<int>(raw.size()), bound);
    if (n <= 0) return fail(Errc::invalid_value, "lz4 compression failed");
    return ByteSpan(p, 4 + static_cast<std::size_t>(n));
  }

  // A buffer kept between records: a fresh megabyte per record would cost an
  // mmap, page faults and zeroing each time (measured: most of the system
  // time of a compressed conversion).
  struct Scratch {
    std::unique_ptr<std::uint8_t[]> p;
    std::size_t cap = 0;
    std::uint8_t* get(std::size_t n) {
      if (cap < n) {
        p.reset(new std::uint8_t[n]);  // not zeroed: always written before read
        cap = n;
      }
      return p.get();
    }
  };
  struct ZstdFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  Scratch packed_, sample_;
  // Payloads from this size on are sampled before compressing (a CHUNK of
  // RAM pages is about 1 MiB).
  static constexpr std::size_t kSampleFrom = 64u << 10;
  std::unique_ptr<ZSTD_CCtx, ZstdFree> zctx_;

  // Output is handed to the sink in pieces of about this size.
  static constexpr std::size_t kFlushAt = 1u << 20;

  const FramedEncodeOptions& opt_;
  ByteSink* sink_;
  std::uint64_t flushed_ = 0;  // bytes already handed to the sink
  std::optional<std::size_t> open_member_;  // of the section whose bulk is being sent
  bool open_optional_ = false;
  std::string open_label_, open_name_;
  std::size_t open_items_ = 0, chunk_items_ = 0;
  std::optional<std::size_t> chunk_start_;  // in out_, of the CHUNK record being built
  ByteWriter out_;
  std::unordered_map<std::string, std::uint32_t> names_;
  std::vector<std::string> pending_names_;
  std::vector<std::pair<std::string, std::uint32_t>> recent_;
  std::uint64_t sections_ = 0;
};

FramedStreamWriter::FramedStreamWriter(const FramedEncodeOptions& opt, ByteSink* sink)
    : impl_(std::make_unique<Impl>(opt, sink)) {}
FramedStreamWriter::~FramedStreamWriter() = default;
Result<void> FramedStreamWriter::begin() { return impl_->begin(); }
Result<void> FramedStreamWriter::envelope(const Struct& env) { return impl_->envelope(env); }
Result<void> FramedStreamWriter::section(const Section& s) { return impl_->section(s); }
Result<void> FramedStreamWriter::begin_section(const Section& head, std::size_t bulk_member) {
  return impl_->begin_section(head, bulk_member);
}
Result<void> FramedStreamWriter::bulk_item(const Value& v) { return impl_->bulk_item(v); }
Result<void> FramedStreamWriter::end_section() { return impl_->end_section(); }
Result<void> FramedStreamWriter::finish() { return impl_->finish(); }

bool is_framed(ByteSpan bytes) noexcept {
  return bytes.size() >= sizeof kMagic && std::equal(kMagic, kMagic + sizeof kMagic, bytes.begin());
}

namespace {

std::size_t estimate_stream(const StateStream& s) {
  std::size_t guess = 256 + estimate(s.envelope);
  for (const Section& sec : s.sections)
    guess += 64 + sec.name.size() + estimate(sec.body);
  return guess;
}

}  // namespace

void FramedStreamWriter::reserve(std::size_t n) { impl_->reserve(n); }
Bytes FramedStreamWriter::take() && { return std::move(*impl_).take(); }

Result<Bytes> encode_framed(const StateStream& s, const FramedEncodeOptions& opt) {
  FramedStreamWriter w(opt);
  const std::size_t guess = estimate_stream(s);
  // Chunk records add a record header per kChunkItems elements; compression shrinks.
  w.reserve(opt.compression == Compression::none ? guess + guess / 64 : guess / 2);
  SW_CHECK(w.begin());
  SW_CHECK(w.envelope(s.envelope));
  for (const Section& sec : s.sections) SW_CHECK(w.section(sec));
  SW_CHECK(w.finish());
  return std::move(w).take();
}



}  // namespace statewire
