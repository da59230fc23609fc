// One streaming pass over a QEMU stream: the report behind `statewire analyze`
// and the analyze-migration.py compatible state JSON (see qemu_analyze.hpp).
//
// The state JSON of a section the trailer explained is rendered by walking
// the trailer entry and the decoded Struct side by side: the trailer-derived
// Description has exactly one field per trailer field entry, so member i
// belongs to entry i. That is what lets types the tree keeps as plain bytes
// or integers print the way analyze-migration.py prints them (it picks the
// rendering by the trailer's type name). Sections without a trailer entry are
// rendered from the tree alone in the same style.
#include "statewire/qemu_analyze.hpp"

#include <fmt/format.h>

#include <map>

#include "codec/qemu/trailer.hpp"

namespace statewire::qemu {

namespace {

using detail::Json;

std::string hex_bytes(ByteSpan b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  if (b.empty()) return s;
  s.resize(b.size() * 3 - 1, ' ');
  for (std::size_t i = 0; i < b.size(); ++i) {
    s[3 * i] = digits[b[i] >> 4];
    s[3 * i + 1] = digits[b[i] & 15];
  }
  return s;
}

// analyze-migration.py: "0x%0{2*size}x", and for negative signed values the
// unsigned pattern followed by " (<decimal>)".
std::string int_text(std::uint64_t bits, std::size_t size, bool is_signed) {
  if (size < 8) bits &= (std::uint64_t(1) << (8 * size)) - 1;
  std::string s = fmt::format("0x{:0{}x}", bits, 2 * size);
  if (is_signed && size > 0 && (bits >> (8 * size - 1)) & 1) {
    std::int64_t v = size == 8 ? static_cast<std::int64_t>(bits)
                               : static_cast<std::int64_t>(bits) - (std::int64_t(1) << (8 * size));
    s += fmt::format(" ({})", v);
  }
  return s;
}

std::string value_bytes_hex(const Value& v) {
  ByteWriter w;
  (void)encode_value(v, w);
  return hex_bytes(w.bytes());
}

// Rendering from the tree alone (no trailer entry).
Json generic_value(const Value& v);

Json generic_struct(const Struct& s) {
  Json out = Json::object();
  for (const auto& m : s.members) out[m.name] = generic_value(m.value);
  for (const auto& sub : s.subsections) out[sub.name] = generic_struct(sub.body);
  return out;
}

Json generic_value(const Value& v) {
  switch (v.kind()) {
    case ValueKind::null: return Json(nullptr);
    case ValueKind::boolean: return Json(*v.get_if<bool>());
    case ValueKind::u8: case ValueKind::u16: case ValueKind::u32: case ValueKind::u64:
    case ValueKind::i8: case ValueKind::i16: case ValueKind::i32: case ValueKind::i64: {
      std::uint64_t bits = 0;
      v.as_u64(bits);
      bool sgn = v.kind() >= ValueKind::i8 && v.kind() <= ValueKind::i64;
      return Json(int_text(bits, v.scalar_width(), sgn));
    }
    case ValueKind::string: return Json(*v.get_if<std::string>());
    case ValueKind::array: {
      Json a = Json::array();
      for (const auto& it : v.get_if<Array>()->items) a.push_back(generic_value(it));
      return a;
    }
    case ValueKind::structure: return generic_struct(*v.get_if<Struct>());
    default: return Json(value_bytes_hex(v));
  }
}

// Rendering guided by a trailer entry (analyze-migration.py's reader table).
struct IntRender {
  const char* type;
  bool is_signed;
};
constexpr IntRender kIntRenders[] = {
    {"int8", true},         {"int16", true},          {"int32", true},
    {"int64", true},        {"int32 equal", true},    {"int32 le", true},
    {"int64 equal", true},  {"uint8 equal", true},    {"uint16 equal", true},
    {"uint8", false},       {"uint16", false},        {"uint32", false},
    {"uint64", false},      {"uint32 equal", false},
};

Result<Json> trailer_struct(const Json& desc, const Struct& s);

Result<Json> trailer_elem(const Json& fe, const Value& v) {
  const std::string type = fe.value("type", std::string());
  if (type == "struct") {
    const Struct* st = v.get_if<Struct>();
    auto it = fe.find("struct");
    if (!st || it == fe.end()) return fail(Errc::mismatch, "struct entry without a struct value");
    return trailer_struct(*it, *st);
  }
  if (type == "bool") {
    if (const bool* b = v.get_if<bool>()) return Json(*b);
  }
  for (const auto& ir : kIntRenders) {
    if (type == ir.type) {
      std::uint64_t bits = 0;
      if (v.as_u64(bits) && v.kind() != ValueKind::boolean)
        return Json(int_text(bits, fe.value("size", std::size_t(0)), ir.is_signed));
    }
  }
  return Json(value_bytes_hex(v));
}

Result<Json> trailer_struct(const Json& desc, const Struct& s) {
  Json out = Json::object();
  std::size_t i = 0;
  if (auto fs = desc.find("fields"); fs != desc.end() && fs->is_array()) {
    for (const Json& fe : *fs) {
      if (i >= s.members.size()) return fail(Errc::mismatch, "fewer members than trailer fields");
      const Value& v = s.members[i++].value;
      const std::string name = fe.value("name", std::string());
      if (fe.contains("array_len") && v.get_if<Blob>()) {
        // A uint8 array kept as one blob: one "0x%02x" per byte, as the script prints.
        Json list = Json::array();
        for (std::uint8_t b : v.get_if<Blob>()->bytes) list.push_back(int_text(b, 1, false));
        out[name] = std::move(list);
      } else if (fe.contains("array_len")) {
        const Array* a = v.get_if<Array>();
        if (!a) return fail(Errc::mismatch, "array entry without an array value");
        Json list = Json::array();
        for (const auto& item : a->items) {
          SW_TRY(j, trailer_elem(fe, item));
          list.push_back(std::move(j));
        }
        out[name] = std::move(list);
      } else if (fe.contains("index")) {
        SW_TRY(j, trailer_elem(fe, v));
        Json& slot = out[name];
        if (!slot.is_array()) slot = Json::array();
        slot.push_back(std::move(j));
      } else {
        SW_TRY(j, trailer_elem(fe, v));
        out[name] = std::move(j);
      }
    }
  }
  if (i != s.members.size()) return fail(Errc::mismatch, "more members than trailer fields");
  std::size_t k = 0;
  if (auto ss = desc.find("subsections"); ss != desc.end() && ss->is_array()) {
    for (const Json& se : *ss) {
      if (k >= s.subsections.size()) return fail(Errc::mismatch, "missing subsection");
      const auto& sub = s.subsections[k++];
      SW_TRY(j, trailer_struct(se, sub.body));
      out[sub.name] = std::move(j);
    }
  }
  return out;
}

class Analyzer final : public QemuStreamVisitor {
 public:
  Analyzer(const AnalyzeOptions& opt, QemuStreamVisitor* tee, const detail::Trailer* trailer)
      : opt_(opt), tee_(tee), trailer_(trailer) {}

  StreamReport report;
  Json state = Json::object();

  Result<void> on_start(std::uint32_t version, bool has_trailer) override {
    report.version = version;
    if (tee_) SW_CHECK(tee_->on_start(version, has_trailer));
    return {};
  }
  Result<void> on_configuration(const Struct& body, std::uint64_t off) override {
    if (const Value* n = body.find("name"); n && n->get_if<Blob>()) {
      const auto& b = n->get_if<Blob>()->bytes;
      report.machine = std::string(b.begin(), b.end());
    }
    for (const auto& sub : body.subsections) report.configuration_subsections.push_back(sub.name);
    if (tee_) SW_CHECK(tee_->on_configuration(body, off));
    return {};
  }
  Result<void> on_command(std::uint16_t cmd, ByteSpan data, std::uint64_t off) override {
    report.commands.push_back(cmd);
    if (tee_) SW_CHECK(tee_->on_command(cmd, data, off));
    return {};
  }
  Result<void> on_section_begin(const SectionHeader& h) override {
    if (opt_.state_json && !section_keys_.count(h.section_id)) {
      std::string key = fmt::format("{} ({})", h.idstr, h.section_id);
      section_keys_[h.section_id] = key;
      if (h.idstr == "ram") {
        Json r = Json::object();
        r["section sizes"] = Json::object();
        state[key] = std::move(r);
      }
    }
    // Block lists arrive inside the current RAM section: remember its key.
    if (auto it = section_keys_.find(h.section_id); it != section_keys_.end())
      current_key_ = it->second;
    if (tee_) SW_CHECK(tee_->on_section_begin(h));
    return {};
  }
  Result<void> on_ram_blocks(std::uint64_t total, std::uint16_t flags,
                             std::span<const RamBlock> blocks) override {
    RamReport& r = report.ram;
    r.total = total;
    ++r.block_lists;
    r.blocks.clear();
    block_index_.clear();
    for (const auto& b : blocks) {
      block_index_[b.id] = r.blocks.size();
      r.blocks.push_back(RamBlockReport{b.id, b.used_length, 0, 0, 0});
    }
    if (opt_.state_json && current_key_) {
      Json& sizes = state[*current_key_]["section sizes"];
      for (const auto& b : blocks) sizes[b.id] = fmt::format("0x{:016x}", b.used_length);
    }
    if (tee_) SW_CHECK(tee_->on_ram_blocks(total, flags, blocks));
    return {};
  }
  Result<void> on_ram_record(const RamRecord& rec) override {
    RamReport& r = report.ram;
    const std::uint16_t kind = rec.flags & ~kRamContinue;
    if (kind == kRamEos) {
      ++r.eos;
    } else {
      if (rec.flags & kRamContinue) ++r.continued;
      if (rec.named || !block_) {
        auto it = block_index_.find(*rec.block);
        block_ = it == block_index_.end() ? nullptr : &r.blocks[it->second];
      }
      if (kind == kRamPage) {
        ++r.full_pages;
        if (block_) ++block_->full_pages;
      } else if (rec.fill == 0) {
        ++r.zero_pages;
        if (block_) ++block_->zero_pages;
      } else {
        ++r.fill_pages;
        if (block_) ++block_->fill_pages;
      }
    }
    if (tee_) SW_CHECK(tee_->on_ram_record(rec));
    return {};
  }
  Result<void> on_device_body(const SectionHeader& h, Struct&& body, ByteSpan raw,
                              SchemaSource src, const Description* schema) override {
    if (opt_.state_json) {
      const std::string& key = section_keys_[h.section_id];
      Json rendered;
      bool done = false;
      if (src == SchemaSource::trailer && trailer_) {
        if (const auto* td = trailer_->find(h.idstr, h.instance_id)) {
          auto j = trailer_struct(*td->entry, body);
          if (j) {
            rendered = std::move(*j);
            done = true;
          }
        }
      }
      if (!done) rendered = generic_struct(body);
      state[key] = std::move(rendered);
    }
    if (tee_) SW_CHECK(tee_->on_device_body(h, std::move(body), raw, src, schema));
    return {};
  }
  Result<void> on_section_end(const SectionSummary& sum) override {
    SectionReport sr;
    sr.summary = sum;
    report.footers = report.footers || sum.footer;
    report.sections.push_back(std::move(sr));
    if (tee_) SW_CHECK(tee_->on_section_end(sum));
    return {};
  }
  Result<void> on_eof(std::uint64_t off) override {
    if (tee_) SW_CHECK(tee_->on_eof(off));
    return {};
  }
  Result<void> on_trailer(std::string_view json, std::uint64_t off) override {
    report.trailer_offset = off;
    report.trailer_size = json.size();
    if (tee_) SW_CHECK(tee_->on_trailer(json, off));
    return {};
  }

 private:
  const AnalyzeOptions& opt_;
  QemuStreamVisitor* tee_;
  const detail::Trailer* trailer_;
  std::map<std::uint32_t, std::string> section_keys_;
  std::optional<std::string> current_key_;
  std::map<std::string, std::size_t, std::less<>> block_index_;
  RamBlockReport* block_ = nullptr;
};

}  // namespace

Result<AnalyzeResult> analyze_qemu_stream(ByteSpan bytes, const AnalyzeOptions& opt,
                                          QemuStreamVisitor* tee) {
  std::optional<detail::Trailer> trailer;
  if (opt.state_json) {
    SW_TRY(t, detail::locate_trailer(bytes));
    trailer = std::move(t);
  }
  Analyzer a(opt, tee, trailer ? &*trailer : nullptr);
  SW_CHECK(scan_qemu_stream(bytes, a, opt.decode));
  AnalyzeResult out;
  out.report = std::move(a.report);
  out.report.size = bytes.size();
  if (opt.state_json) out.state_json = a.state.dump(opt.indent, ' ', /*ensure_ascii=*/true) + "\n";
  return out;
}

std::string report_text(const StreamReport& r) {
  std::string s;
  auto out = std::back_inserter(s);
  fmt::format_to(out, "QEMU migration stream, format version {}, {} bytes\n", r.version, r.size);
  if (r.machine) {
    fmt::format_to(out, "configuration: machine {}", *r.machine);
    for (const auto& sub : r.configuration_subsections) fmt::format_to(out, ", {}", sub);
    fmt::format_to(out, "\n");
  } else {
    fmt::format_to(out, "configuration: none\n");
  }
  fmt::format_to(out, "section footers: {}\n", r.footers ? "on" : "off");
  if (r.trailer_offset)
    fmt::format_to(out, "description trailer: {} bytes of JSON at {:#x}\n", r.trailer_size,
                   *r.trailer_offset);
  else
    fmt::format_to(out, "description trailer: none\n");
  if (!r.commands.empty()) {
    fmt::format_to(out, "commands:");
    for (auto c : r.commands) fmt::format_to(out, " {}", c);
    fmt::format_to(out, "\n");
  }
  const RamReport& ram = r.ram;
  fmt::format_to(out, "\nRAM: {} blocks, {} bytes ({:.1f} MiB)\n", ram.blocks.size(), ram.total,
                 ram.total / 1048576.0);
  fmt::format_to(out, "  {:<32} {:>18} {:>10} {:>10} {:>10}\n", "block", "used_length", "zero",
                 "fill", "page");
  for (const auto& b : ram.blocks)
    fmt::format_to(out, "  {:<32} {:>#18x} {:>10} {:>10} {:>10}\n", b.id, b.used_length,
                   b.zero_pages, b.fill_pages, b.full_pages);
  fmt::format_to(out,
                 "  pages by kind: zero {}, fill (non-zero byte) {}, full page {}; "
                 "continue flag {}, EOS {}, block lists {}\n",
                 ram.zero_pages, ram.fill_pages, ram.full_pages, ram.continued, ram.eos,
                 ram.block_lists);

  std::map<SchemaSource, std::size_t> by_source;
  fmt::format_to(out, "\n{} section records:\n", r.sections.size());
  fmt::format_to(out, "  {:>10} {:<5} {:>4} {:<36} {:>4} {:>4} {:>10} {:<10} {}\n", "offset",
                 "kind", "id", "idstr", "inst", "ver", "body", "schema", "");
  for (const auto& sec : r.sections) {
    const SectionSummary& m = sec.summary;
    static constexpr const char* kinds[] = {"FULL", "START", "PART", "END"};
    ++by_source[m.source];
    fmt::format_to(out, "  {:>#10x} {:<5} {:>4} {:<36} {:>4} {:>4} {:>10} {:<10} {}\n",
                   m.header.offset, kinds[static_cast<int>(m.header.kind)], m.header.section_id,
                   m.header.idstr, m.header.instance_id, m.header.version_id, m.body_size,
                   schema_source_name(m.source), m.source == SchemaSource::opaque ? m.note : "");
  }
  fmt::format_to(out, "\nschemas:");
  const char* sep = " ";
  for (auto [src, n] : by_source) {
    fmt::format_to(out, "{}{} {}", sep, schema_source_name(src), n);
    sep = ", ";
  }
  fmt::format_to(out, "\n");
  return s;
}

}  // namespace statewire::qemu
