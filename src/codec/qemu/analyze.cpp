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
#include "statewire/text.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "codec/qemu/trailer.hpp"

namespace statewire::qemu {

namespace {

using detail::Json;

// Writes JSON the way Python's json module does with indent=N and
// separators (',', ': '), ensure_ascii: analyze-migration.py's output format.
class PyJsonWriter {
 public:
  PyJsonWriter(std::string& out, int indent) : out_(out), indent_(indent) {}
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_list() { open('['); }
  void end_list() { close(']'); }
  void key(std::string_view k) {
    item();
    string(k);
    out_ += ": ";
  }
  void elem() { item(); }
  void string(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        default:
          if (c < 0x20 || c >= 0x80) {
            out_ += "\\u00";
            out_ += hex[c >> 4];
            out_ += hex[c & 15];
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }
  void boolean(bool b) { out_ += b ? "true" : "false"; }
  void null() { out_ += "null"; }
  // A value already known to need no escaping (hex text).
  void plain_string(std::string_view s) {
    out_ += '"';
    out_ += s;
    out_ += '"';
  }
  std::string& out() { return out_; }
  // To undo a partly written value.
  struct Mark {
    std::size_t size;
    std::vector<bool> first;
  };
  Mark mark() const { return {out_.size(), first_}; }
  void reset(const Mark& m) {
    out_.resize(m.size);
    first_ = m.first;
  }

 private:
  void open(char c) {
    out_ += c;
    first_.push_back(true);
  }
  void close(char c) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) newline();
    out_ += c;
  }
  void item() {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    newline();
  }
  void newline() {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(indent_) * first_.size(), ' ');
  }
  std::string& out_;
  int indent_;
  std::vector<bool> first_;
};

void append_hex_bytes(std::string& out, ByteSpan b) {
  static constexpr char digits[] = "0123456789abcdef";
  if (b.empty()) return;
  const std::size_t start = out.size();
  out.resize(start + b.size() * 3 - 1, ' ');
  char* p = out.data() + start;
  for (std::size_t i = 0; i < b.size(); ++i) {
    p[3 * i] = digits[b[i] >> 4];
    p[3 * i + 1] = digits[b[i] & 15];
  }
}

// analyze-migration.py: "0x%0{2*size}x", and for negative signed values the
// unsigned pattern followed by " (<decimal>)".
void append_int(std::string& out, std::uint64_t bits, std::size_t size, bool is_signed) {
  if (size < 8 && size > 0) bits &= (std::uint64_t(1) << (8 * size)) - 1;
  fmt::format_to(std::back_inserter(out), "0x{:0{}x}", bits, 2 * size);
  if (is_signed && size > 0 && size <= 8 && (bits >> (8 * size - 1)) & 1) {
    std::int64_t v = size == 8 ? static_cast<std::int64_t>(bits)
                               : static_cast<std::int64_t>(bits) - (std::int64_t(1) << (8 * size));
    fmt::format_to(std::back_inserter(out), " ({})", v);
  }
}

void write_int(PyJsonWriter& w, std::uint64_t bits, std::size_t size, bool is_signed) {
  std::string& out = w.out();
  out += '"';
  append_int(out, bits, size, is_signed);
  out += '"';
}

void write_value_bytes(PyJsonWriter& w, const Value& v) {
  std::string& out = w.out();
  out += '"';
  if (const Blob* b = v.get_if<Blob>()) {
    append_hex_bytes(out, b->bytes);
  } else {
    ByteWriter bw;
    (void)encode_value(v, bw);
    append_hex_bytes(out, bw.bytes());
  }
  out += '"';
}

// Rendering from the tree alone (no trailer entry). Member names may repeat
// in a tree (several `unused` fields); like QEMU's own trailer, such names
// get "[k]" suffixes, so no object ever holds one key twice.
void generic_value(PyJsonWriter& w, const Value& v);

void generic_struct(PyJsonWriter& w, const Struct& s) {
  std::map<std::string_view, std::size_t> count, seen;
  for (const auto& m : s.members) ++count[m.name];
  w.begin_object();
  for (const auto& m : s.members) {
    if (count[m.name] > 1)
      w.key(fmt::format("{}[{}]", m.name, seen[m.name]++));
    else
      w.key(m.name);
    generic_value(w, m.value);
  }
  for (const auto& sub : s.subsections) {
    w.key(count.count(sub.name) ? sub.name + " (subsection)" : sub.name);
    generic_struct(w, sub.body);
  }
  w.end_object();
}

void generic_value(PyJsonWriter& w, const Value& v) {
  switch (v.kind()) {
    case ValueKind::null: w.null(); return;
    case ValueKind::boolean: w.boolean(*v.get_if<bool>()); return;
    case ValueKind::u8: case ValueKind::u16: case ValueKind::u32: case ValueKind::u64:
    case ValueKind::i8: case ValueKind::i16: case ValueKind::i32: case ValueKind::i64: {
      std::uint64_t bits = 0;
      v.as_u64(bits);
      bool sgn = v.kind() >= ValueKind::i8 && v.kind() <= ValueKind::i64;
      write_int(w, bits, v.scalar_width(), sgn);
      return;
    }
    case ValueKind::string: w.string(*v.get_if<std::string>()); return;
    case ValueKind::array:
      w.begin_list();
      for (const auto& it : v.get_if<Array>()->items) {
        w.elem();
        generic_value(w, it);
      }
      w.end_list();
      return;
    case ValueKind::structure: generic_struct(w, *v.get_if<Struct>()); return;
    default: write_value_bytes(w, v); return;
  }
}

// Rendering guided by a trailer entry (analyze-migration.py's reader table).
struct IntRender {
  std::string_view type;
  bool is_signed;
};
constexpr IntRender kIntRenders[] = {
    {"int8", true},         {"int16", true},          {"int32", true},
    {"int64", true},        {"int32 equal", true},    {"int32 le", true},
    {"int64 equal", true},  {"uint8 equal", true},    {"uint16 equal", true},
    {"uint8", false},       {"uint16", false},        {"uint32", false},
    {"uint64", false},      {"uint32 equal", false},
};

bool trailer_struct(PyJsonWriter& w, const Json& desc, const Struct& s, StateLayout layout);

bool trailer_elem(PyJsonWriter& w, const Json& fe, const Value& v, StateLayout layout) {
  auto t = fe.find("type");
  if (t == fe.end() || !t->is_string()) return false;
  const std::string& type = t->get_ref<const std::string&>();
  // A NULL element of an array of pointers (QEMU 9.2 on names the type
  // "nullptr", 7.2 an empty "struct"; the 10.2 script prints "nullptr", the
  // 7.2 one the marker byte).
  if (v.kind() == ValueKind::null || (type == "nullptr" && layout != StateLayout::qemu_7_2)) {
    if (layout == StateLayout::lossless)
      w.null();
    else if (layout == StateLayout::qemu_10_2)
      w.plain_string("nullptr");
    else
      write_value_bytes(w, v);
    return true;
  }
  if (type == "struct") {
    const Struct* st = v.get_if<Struct>();
    auto it = fe.find("struct");
    return st && it != fe.end() && trailer_struct(w, *it, *st, layout);
  }
  if (type == "bool") {
    if (const bool* b = v.get_if<bool>()) {
      w.boolean(*b);
      return true;
    }
  }
  for (const auto& ir : kIntRenders) {
    if (type == ir.type) {
      std::uint64_t bits = 0;
      auto sz = fe.find("size");
      if (v.kind() != ValueKind::boolean && v.as_u64(bits) && sz != fe.end() &&
          sz->is_number_unsigned()) {
        write_int(w, bits, sz->get<std::size_t>(), ir.is_signed);
        return true;
      }
    }
  }
  write_value_bytes(w, v);
  return true;
}

// One value the scripts print: a trailer entry's member, or one element of
// an entry compressed with "array_len" (a byte of a blob or an array item).
struct Elem {
  const Json* fe = nullptr;
  const Value* v = nullptr;
  int byte = -1;  // >= 0: one byte of a uint8 array kept as a blob
};

// The values printed under one key, gathered from every trailer entry that
// carries the name (an array's elements, or segments of an array of pointers).
struct Group {
  std::string_view name;
  std::vector<Elem> elems;
  bool list = false;    // qemu-7.2: the entries so far were index entries
  bool marked = false;  // some entry carries "index" or "array_len"
};

// Adds one trailer entry's values to its group, as the chosen script would:
// 7.2 appends index entries to a list and lets a plain entry replace the key
// (so on 10.2 input, whose last struct element has no "index", it keeps only
// that element); 10.2 turns a repeated name into a list; lossless does what
// 10.2 does, and keeps a marked array a list even with one element.
bool add_entry(Group& g, const Json& fe, const Value& v, StateLayout layout) {
  std::vector<Elem> add;
  const bool compressed = fe.contains("array_len");
  const bool indexed = compressed || fe.contains("index");
  if (compressed) {
    if (const Blob* b = v.get_if<Blob>()) {
      for (std::uint8_t byte : b->bytes) add.push_back({&fe, &v, byte});
    } else if (const Array* a = v.get_if<Array>()) {
      for (const auto& item : a->items) add.push_back({&fe, &item, -1});
    } else if (v.kind() == ValueKind::null) {
      // A run of NULL pointers described once ("nullptr" with array_len n).
      const auto& n = fe["array_len"];
      if (!n.is_number_unsigned() || n.get<std::uint64_t>() > (1u << 24)) return false;
      for (std::uint64_t k = 0; k < n.get<std::uint64_t>(); ++k) add.push_back({&fe, &v, -1});
    } else {
      return false;
    }
  } else {
    add.push_back({&fe, &v, -1});
  }
  g.marked = g.marked || indexed;
  if (layout == StateLayout::qemu_7_2) {
    if (!indexed) {
      g.elems = std::move(add);
      g.list = false;
      return true;
    }
    if (!g.list) g.elems.clear();
    g.list = true;
  }
  g.elems.insert(g.elems.end(), add.begin(), add.end());
  return true;
}

bool write_elem(PyJsonWriter& w, const Elem& e, StateLayout layout) {
  if (e.byte >= 0) {
    write_int(w, static_cast<std::uint64_t>(e.byte), 1, false);
    return true;
  }
  return trailer_elem(w, *e.fe, *e.v, layout);
}

bool trailer_struct(PyJsonWriter& w, const Json& desc, const Struct& s, StateLayout layout) {
  // Member i belongs to field entry i (see the file comment); keys are
  // printed in order of first appearance, as Python's dicts keep them.
  std::vector<Group> groups;
  std::map<std::string_view, std::size_t> by_name;
  std::size_t i = 0;
  if (auto fs = desc.find("fields"); fs != desc.end() && fs->is_array()) {
    for (const Json& fe : *fs) {
      if (i >= s.members.size()) return false;
      const Value& v = s.members[i++].value;
      auto n = fe.find("name");
      if (n == fe.end() || !n->is_string()) return false;
      std::string_view name = n->get_ref<const std::string&>();
      auto [it, fresh] = by_name.try_emplace(name, groups.size());
      if (fresh) groups.push_back(Group{name, {}, false, false});
      if (!add_entry(groups[it->second], fe, v, layout)) return false;
    }
  }
  if (i != s.members.size()) return false;
  w.begin_object();
  for (const Group& g : groups) {
    w.key(g.name);
    const bool list = layout == StateLayout::qemu_7_2 ? g.list
                      : layout == StateLayout::qemu_10_2
                          ? g.elems.size() > 1
                          : g.elems.size() > 1 || g.marked;
    if (!list) {
      if (g.elems.size() != 1 || !write_elem(w, g.elems[0], layout)) return false;
      continue;
    }
    w.begin_list();
    for (const Elem& e : g.elems) {
      w.elem();
      if (!write_elem(w, e, layout)) return false;
    }
    w.end_list();
  }
  std::size_t k = 0;
  if (auto ss = desc.find("subsections"); ss != desc.end() && ss->is_array()) {
    for (const Json& se : *ss) {
      if (k >= s.subsections.size()) return false;
      const auto& sub = s.subsections[k++];
      // The scripts would let a subsection replace a field of the same name
      // (no QEMU device has one); we keep both rather than repeat a key.
      w.key(by_name.count(sub.name) ? sub.name + " (subsection)" : sub.name);
      if (!trailer_struct(w, se, sub.body, layout)) return false;
    }
  }
  if (k != s.subsections.size()) return false;
  w.end_object();
  return true;
}

class Analyzer final : public QemuStreamVisitor {
 public:
  Analyzer(const AnalyzeOptions& opt, QemuStreamVisitor* tee)
      : opt_(opt), tee_(tee), w_(state_, opt.indent) {
    if (opt_.state_json) w_.begin_object();
  }

  StreamReport report;

  std::string finish_state() {
    w_.end_object();
    state_ += '\n';
    if (opt_.state_sink) {
      opt_.state_sink(state_);
      return {};
    }
    return std::move(state_);
  }

  // Hands the rendered text to the sink between sections.
  void maybe_flush() {
    if (opt_.state_sink && state_.size() >= (64u << 10)) {
      opt_.state_sink(state_);
      state_.clear();
    }
  }

  Result<void> on_start(std::uint32_t version, const detail::Trailer* trailer) override {
    report.version = version;
    trailer_ = trailer;
    if (tee_) SW_CHECK(tee_->on_start(version, trailer));
    return {};
  }
  Result<void> on_description(const detail::Trailer& trailer) override {
    trailer_ = &trailer;
    if (tee_) SW_CHECK(tee_->on_description(trailer));
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
    if (h.kind == SectionKind::full || h.kind == SectionKind::start) check_header(h);
    if (tee_) SW_CHECK(tee_->on_section_begin(h));
    return {};
  }
  Result<void> on_warning(const Error& e) override {
    report.warnings.push_back(e);
    if (tee_) SW_CHECK(tee_->on_warning(e));
    return {};
  }
  Result<void> on_ram_blocks(std::uint64_t total, std::uint16_t flags,
                             std::span<const RamBlock> blocks) override {
    RamReport& r = report.ram;
    r.total = total;
    ++r.block_lists;
    r.blocks.clear();
    block_index_.clear();
    block_ = nullptr;
    for (const auto& b : blocks) {
      block_index_[b.id] = r.blocks.size();
      r.blocks.push_back(RamBlockReport{b.id, b.used_length, 0, 0, 0});
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
    // The script keys sections by section id in order of first appearance.
    if (opt_.state_json && written_.insert(h.section_id).second) {
      w_.key(fmt::format("{} ({})", h.idstr, h.section_id));
      bool done = false;
      if (src == SchemaSource::trailer && trailer_) {
        if (const auto* td = trailer_->find(h.idstr, h.instance_id)) {
          auto m = w_.mark();
          done = trailer_struct(w_, *td->entry, body, opt_.layout);
          if (!done) w_.reset(m);
        }
      }
      if (!done) generic_struct(w_, body);
      maybe_flush();
    }
    if (tee_) SW_CHECK(tee_->on_device_body(h, std::move(body), raw, src, schema));
    return {};
  }
  Result<void> on_section_end(const SectionSummary& sum) override {
    if (opt_.state_json && sum.source == SchemaSource::ram &&
        written_.insert(sum.header.section_id).second) {
      w_.key(fmt::format("{} ({})", sum.header.idstr, sum.header.section_id));
      w_.begin_object();
      w_.key("section sizes");
      w_.begin_object();
      for (const auto& b : report.ram.blocks) {
        w_.key(b.id);
        w_.plain_string(fmt::format("0x{:016x}", b.used_length));
      }
      w_.end_object();
      w_.end_object();
    }
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
  void anomaly(const SectionHeader& h, Errc code, std::string field, std::string what) {
    Error e = make_error(code, std::move(what));
    e.offset = h.offset;
    e.section = fmt::format("{} (section {})", h.idstr.empty() ? "<empty name>" : h.idstr,
                            h.section_id);
    e.field_path = std::move(field);
    report.anomalies.push_back(std::move(e));
  }

  // QEMU's loader looks a section up by (idstr, instance_id) among its own
  // handlers and checks the version against that handler's range.
  void check_header(const SectionHeader& h) {
    if (h.idstr.empty()) {
      anomaly(h, Errc::unknown_section, "idstr",
              "empty section name: a loader has no handler for it and refuses the stream");
      return;
    }
    for (unsigned char c : h.idstr) {
      if (c < 0x20 || c > 0x7e) {
        anomaly(h, Errc::unknown_section, "idstr",
                fmt::format("section name holds byte {:#04x}: no handler has such a name, a "
                            "loader refuses the stream",
                            c));
        return;
      }
    }
    if (!opt_.decode.dump) return;
    // idstr is "<qdev path>/<vmsd name>" or the vmsd name alone; several QOM
    // types may share a vmsd name (ISA and PCI ne2000), so only a version no
    // one of them accepts is refused.
    const Description* any = nullptr;
    for (std::size_t p = 0; !any;) {
      std::string_view tail = std::string_view(h.idstr).substr(p);
      for (const auto& dev : opt_.decode.dump->devices) {
        const Description& d = dev.description;
        if (d.name != tail) continue;
        if (h.version_id <= d.version_id && h.version_id >= d.minimum_version_id) return;
        any = &d;
      }
      std::size_t slash = h.idstr.find('/', p);
      if (slash == std::string::npos) break;
      p = slash + 1;
    }
    if (!any) return;
    anomaly(h, h.version_id > any->version_id ? Errc::version_too_new : Errc::version_too_old,
            "version_id",
            fmt::format("version {} is outside what the schema's '{}' accepts (v{}..v{}): that "
                        "build refuses it",
                        h.version_id, any->name, any->minimum_version_id, any->version_id));
  }

  const AnalyzeOptions& opt_;
  QemuStreamVisitor* tee_;
  const detail::Trailer* trailer_ = nullptr;
  std::string state_;
  PyJsonWriter w_;
  std::set<std::uint32_t> written_;
  std::map<std::string, std::size_t, std::less<>> block_index_;
  RamBlockReport* block_ = nullptr;
};

}  // namespace

std::optional<StateLayout> parse_state_layout(std::string_view name) {
  if (name == "lossless") return StateLayout::lossless;
  if (name == "qemu-10.2") return StateLayout::qemu_10_2;
  if (name == "qemu-7.2") return StateLayout::qemu_7_2;
  return std::nullopt;
}

Result<AnalyzeResult> analyze_qemu_stream(ByteSpan bytes, const AnalyzeOptions& opt,
                                          QemuStreamVisitor* tee) {
  Analyzer a(opt, tee);
  AnalyzeResult out;
  if (auto scanned = scan_qemu_stream(bytes, a, opt.decode); !scanned) {
    if (!opt.keep_partial) return Unexpected(std::move(scanned.error()));
    out.stopped = std::move(scanned.error());
  }
  out.report = std::move(a.report);
  out.report.size = bytes.size();
  if (opt.state_json) out.state_json = a.finish_state();
  return out;
}

Result<AnalyzeResult> analyze_qemu_stream(ByteSource& source, const AnalyzeOptions& opt,
                                          QemuStreamVisitor* tee) {
  Analyzer a(opt, tee);
  QemuStreamReader reader(source, opt.decode);
  AnalyzeResult out;
  if (auto run = reader.run(a); !run) {
    if (!opt.keep_partial) return Unexpected(std::move(run.error()));
    out.stopped = std::move(run.error());
  }
  out.report = std::move(a.report);
  // A stream that stopped on damage is reported with every byte it had.
  out.report.size = out.stopped ? reader.bytes_seen() : reader.offset();
  if (opt.state_json) out.state_json = a.finish_state();
  return out;
}

std::string report_text(const StreamReport& r) { return report_text(r, nullptr); }

std::string report_text(const StreamReport& r, const Error* stopped) {
  std::string s;
  auto out = std::back_inserter(s);
  fmt::format_to(out, "QEMU migration stream, format version {}, {} bytes\n", r.version, r.size);
  if (r.machine) {
    fmt::format_to(out, "configuration: machine {}", printable(*r.machine));
    for (const auto& sub : r.configuration_subsections) fmt::format_to(out, ", {}", printable(sub));
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
    fmt::format_to(out, "  {:<32} {:>#18x} {:>10} {:>10} {:>10}\n", printable(b.id), b.used_length,
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
                   printable(m.header.idstr), m.header.instance_id, m.header.version_id, m.body_size,
                   schema_source_name(m.source),
                   m.source == SchemaSource::opaque ? printable(m.note)
                   : m.kept_as_bytes.empty()        ? std::string()
                                                    : "custom field kept as bytes: " +
                                                          printable(m.kept_as_bytes));
  }
  fmt::format_to(out, "\nschemas:");
  const char* sep = " ";
  for (auto [src, n] : by_source) {
    fmt::format_to(out, "{}{} {}", sep, schema_source_name(src), n);
    sep = ", ";
  }
  fmt::format_to(out, "\n");
  if (!r.warnings.empty()) {
    fmt::format_to(out, "\n{} warnings (worked around; QEMU loads this):\n", r.warnings.size());
    for (const auto& w : r.warnings) fmt::format_to(out, "  {}\n", w.to_string());
  }
  if (!r.anomalies.empty()) {
    fmt::format_to(out, "\n{} anomalies (a loader would refuse this stream):\n",
                   r.anomalies.size());
    for (const auto& a : r.anomalies) fmt::format_to(out, "  {}\n", a.to_string());
  }
  if (stopped)
    fmt::format_to(out, "\nSTOPPED: the stream is damaged; the report covers what comes before:\n  {}\n",
                   stopped->to_string());
  return s;
}

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes) / 1024;
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) v /= 1024, ++u;
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string report_sizes(const StreamReport& r) {
  std::string s;
  auto out = std::back_inserter(s);
  std::uint64_t ram = 0, devices = 0;
  // Devices by name and instance: a START/PART/END series counts once.
  std::vector<std::pair<std::string, std::uint64_t>> by_device;
  std::map<std::string, std::size_t> index;
  for (const auto& sec : r.sections) {
    const SectionSummary& m = sec.summary;
    if (m.source == SchemaSource::ram) {
      ram += m.body_size;
      continue;
    }
    devices += m.body_size;
    const std::string label = fmt::format("{}/{}", m.header.idstr, m.header.instance_id);
    auto [it, fresh] = index.try_emplace(label, by_device.size());
    if (fresh) by_device.emplace_back(label, 0);
    by_device[it->second].second += m.body_size;
  }
  const std::uint64_t total = std::max<std::uint64_t>(r.size, 1);
  auto share = [&](std::uint64_t n) { return 100.0 * static_cast<double>(n) / static_cast<double>(total); };
  const std::uint64_t other = r.size >= ram + devices ? r.size - ram - devices : 0;
  fmt::format_to(out, "\nsizes: stream {}\n", human_size(r.size));
  fmt::format_to(out, "  {:<40} {:>10} {:>6.1f}%\n", "RAM (page records)", human_size(ram), share(ram));
  fmt::format_to(out, "  {:<40} {:>10} {:>6.1f}%\n", fmt::format("device state ({} devices)", by_device.size()),
                 human_size(devices), share(devices));
  fmt::format_to(out, "  {:<40} {:>10} {:>6.1f}%\n", "headers, footers, description trailer",
                 human_size(other), share(other));
  std::stable_sort(by_device.begin(), by_device.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  fmt::format_to(out, "\ndevices by size (share of the device state):\n");
  for (const auto& [label, n] : by_device)
    fmt::format_to(out, "  {:<40} {:>10} {:>6.1f}%\n", label, human_size(n),
                   devices ? 100.0 * static_cast<double>(n) / static_cast<double>(devices) : 0.0);
  return s;
}

}  // namespace statewire::qemu
