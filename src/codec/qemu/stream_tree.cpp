// A QEMU stream as a whole StateStream (decode_qemu_stream) and back
// (encode_qemu_stream). The tree layout:
//   sections[i]          one per START/PART/END/FULL record, in wire order;
//                        PART/END carry the name of the START they continue
//   RAM bodies           {"records": [{addr, flags, [block], [fill|data|blocks]}]}
//                        one entry per record, EOS included; `block` only
//                        where the name was on the wire (no CONTINUE flag)
//   unexplained bodies   {"opaque": blob}
//   envelope             format, version, [configuration], section_footers,
//                        [commands: {before, cmd, data}], [vmdescription]
// Everything that decides a byte is in the tree, so encoding needs no schema.
#include <fmt/format.h>

#include <algorithm>

#include "statewire/qemu_stream.hpp"

namespace statewire::qemu {

namespace {

Value blob_of(ByteSpan s) { return Value(Blob{std::vector<std::uint8_t>(s.begin(), s.end())}); }

class TreeBuilder final : public QemuStreamVisitor {
 public:
  explicit TreeBuilder(Budget& budget) : budget_(budget) {}

  Result<void> on_start(std::uint32_t version, const detail::Trailer*) override {
    version_ = version;
    return {};
  }
  Result<void> on_configuration(const Struct& body, std::uint64_t) override {
    config_ = body;
    return {};
  }
  Result<void> on_command(std::uint16_t cmd, ByteSpan data, std::uint64_t off) override {
    SW_CHECK(charge(value_cost() + 3 * member_cost(0) + data.size(), off, "a command"));
    Struct c;
    c.members.push_back({"before", Value(static_cast<std::uint32_t>(out_.sections.size()))});
    c.members.push_back({"cmd", Value(cmd)});
    c.members.push_back({"data", blob_of(data)});
    commands_.items.push_back(Value(std::move(c)));
    return {};
  }
  Result<void> on_section_begin(const SectionHeader& h) override {
    Section s;
    s.kind = h.kind;
    s.section_id = h.section_id;
    s.name = h.idstr;
    s.instance_id = h.instance_id;
    s.version_id = h.version_id;
    out_.sections.push_back(std::move(s));
    records_.items.clear();
    return {};
  }
  Result<void> on_ram_blocks(std::uint64_t total, std::uint16_t flags,
                             std::span<const RamBlock> blocks) override {
    SW_CHECK(charge(value_cost() + 3 * member_cost(0) +
                        blocks.size() * (value_cost() + 4 * member_cost(0)),
                    0, "a RAM block list"));
    Struct r;
    r.members.push_back({"addr", Value(total)});
    r.members.push_back({"flags", Value(flags)});
    Array list;
    for (const auto& b : blocks) {
      Struct bs;
      bs.members.push_back({"id", Value(b.id)});
      bs.members.push_back({"used_length", Value(b.used_length)});
      if (b.page_size) bs.members.push_back({"page_size", Value(*b.page_size)});
      if (b.gpa) bs.members.push_back({"gpa", Value(*b.gpa)});
      list.items.push_back(Value(std::move(bs)));
    }
    r.members.push_back({"blocks", Value(std::move(list))});
    records_.items.push_back(Value(std::move(r)));
    return {};
  }
  Result<void> on_ram_record(const RamRecord& rec) override {
    // Each record becomes a node of its own: a stream of nothing but zero
    // pages (9 bytes each) is the tree's worst case per input byte.
    SW_CHECK(charge(value_cost() + 4 * member_cost(0) + rec.data.size(), rec.stream_offset,
                    "a RAM record"));
    Struct r;
    r.members.reserve(4);
    r.members.push_back({"addr", Value(rec.addr)});
    r.members.push_back({"flags", Value(rec.flags)});
    if (rec.named) r.members.push_back({"block", Value(*rec.block)});
    const std::uint16_t kind = rec.flags & ~kRamContinue;
    if (kind == kRamZero) r.members.push_back({"fill", Value(rec.fill)});
    if (kind == kRamPage) r.members.push_back({"data", blob_of(rec.data)});
    records_.items.push_back(Value(std::move(r)));
    return {};
  }
  Result<void> on_device_body(const SectionHeader&, Struct&& body, ByteSpan, SchemaSource,
                              const Description*) override {
    out_.sections.back().body = std::move(body);
    return {};
  }
  Result<void> on_section_end(const SectionSummary& sum) override {
    if (sum.source == SchemaSource::ram)
      out_.sections.back().body.members.push_back(
          {std::string(keys::kRamRecords), Value(std::move(records_))});
    records_ = Array{};
    if (!footers_) footers_ = sum.footer;
    return {};
  }
  Result<void> on_trailer(std::string_view json, std::uint64_t) override {
    trailer_ = std::string(json);
    return {};
  }

  StateStream finish() && {
    Struct& env = out_.envelope;
    env.members.push_back({std::string(keys::kFormat), Value(std::string("qemu-savevm"))});
    env.members.push_back({std::string(keys::kVersion), Value(version_)});
    if (config_) env.members.push_back({std::string(keys::kConfiguration), Value(std::move(*config_))});
    env.members.push_back({std::string(keys::kFooters), Value(footers_.value_or(false))});
    if (!commands_.items.empty())
      env.members.push_back({std::string(keys::kCommands), Value(std::move(commands_))});
    if (trailer_) env.members.push_back({std::string(keys::kTrailer), Value(std::move(*trailer_))});
    return std::move(out_);
  }

 private:
  Result<void> charge(std::uint64_t bytes, std::uint64_t offset, const char* what) {
    auto r = budget_.charge(bytes, offset, what);
    if (!r && !out_.sections.empty()) r.error().in_section(out_.sections.back().label());
    return r;
  }

  Budget& budget_;
  StateStream out_;
  std::uint32_t version_ = kFileVersion;
  std::optional<Struct> config_;
  Array commands_;
  Array records_;
  std::optional<bool> footers_;
  std::optional<std::string> trailer_;
};

// --- encoding -------------------------------------------------------------

Unexpected bad_tree(std::string section, std::string field, std::string what) {
  Error e = make_error(Errc::invalid_value, std::move(what));
  e.section = std::move(section);
  e.field_path = std::move(field);
  return Unexpected(std::move(e));
}

template <class T>
const T* member_as(const Struct& s, std::string_view name) {
  const Value* v = s.find(name);
  return v ? v->get_if<T>() : nullptr;
}

Result<std::uint64_t> member_uint(const Struct& s, std::string_view name, const std::string& sec,
                                  const std::string& path) {
  const Value* v = s.find(name);
  std::uint64_t x = 0;
  if (!v || !v->is_integer() || !v->as_u64(x))
    return bad_tree(sec, path + std::string(name), "expected an integer member");
  return x;
}

// The same for hot loops: the path is built only when the member is bad.
template <class PathFn>
[[gnu::always_inline]] inline Result<std::uint64_t> member_uint_lazy(const Struct& s, std::string_view name,
                                       const std::string& sec, PathFn path) {
  const Value* v = s.find(name);
  std::uint64_t x = 0;
  if (!v || !v->is_integer() || !v->as_u64(x))
    return bad_tree(sec, path() + std::string(name), "expected an integer member");
  return x;
}

Result<void> put_counted(ByteWriter& w, const std::string& s, const std::string& sec,
                         const std::string& field) {
  if (s.size() > 255) return bad_tree(sec, field, "name longer than 255 bytes");
  w.put_counted_string(s);
  return {};
}

// One RAM record (an element of a RAM body's "records"); `i` names it in errors.
[[gnu::always_inline]] inline Result<void> encode_ram_record(const Value& item, std::size_t i,
                                                             ByteWriter& w, const std::string& sec) {
  // Formatted only when needed: this runs once per RAM page.
  auto path = [i] { return fmt::format("records[{}].", i); };
  const Struct* r = item.get_if<Struct>();
  if (!r) return bad_tree(sec, path(), "expected a record struct");
  SW_TRY(addr, member_uint_lazy(*r, "addr", sec, path));
  SW_TRY(flags, member_uint_lazy(*r, "flags", sec, path));
  if (flags > 0xffff || (addr & flags))
    return bad_tree(sec, path() + "flags", "flags overlap the address bits");
  w.put_be64(addr | flags);
  const std::uint64_t kind = flags & ~std::uint64_t(kRamContinue);
  if (kind == kRamMemSize) {
    const Array* blocks = member_as<Array>(*r, "blocks");
    if (!blocks) return bad_tree(sec, path() + "blocks", "expected the block list");
    for (std::size_t b = 0; b < blocks->items.size(); ++b) {
      const std::string bp = fmt::format("{}blocks[{}].", path(), b);
      const Struct* bs = blocks->items[b].get_if<Struct>();
      const std::string* id = bs ? member_as<std::string>(*bs, "id") : nullptr;
      if (!id) return bad_tree(sec, bp + "id", "expected a block id string");
      SW_CHECK(put_counted(w, *id, sec, bp + "id"));
      SW_TRY(len, member_uint(*bs, "used_length", sec, bp));
      w.put_be64(len);
      if (bs->find("page_size")) {
        SW_TRY(ps, member_uint(*bs, "page_size", sec, bp));
        w.put_be64(ps);
      }
      if (bs->find("gpa")) {
        SW_TRY(gpa, member_uint(*bs, "gpa", sec, bp));
        w.put_be64(gpa);
      }
    }
    return {};
  }
  if (kind == kRamEos) return {};
  if (kind != kRamZero && kind != kRamPage)
    return Unexpected([&] {
      Error e = make_error(Errc::unsupported,
                           fmt::format("not supported: RAM record flags {:#x}", flags));
      e.section = sec;
      e.field_path = path() + "flags";
      return e;
    }());
  const std::string* block = member_as<std::string>(*r, "block");
  if (!(flags & kRamContinue)) {
    if (!block) return bad_tree(sec, path() + "block", "no CONTINUE flag: the block name is needed");
    if (block->size() > 255) return bad_tree(sec, path() + "block", "name longer than 255 bytes");
    w.put_counted_string(*block);
  } else if (block) {
    return bad_tree(sec, path() + "block", "CONTINUE flag set: the block name must be absent");
  }
  if (kind == kRamZero) {
    SW_TRY(fill, member_uint_lazy(*r, "fill", sec, path));
    if (fill > 0xff) return bad_tree(sec, path() + "fill", "fill byte above 0xff");
    w.put_u8(static_cast<std::uint8_t>(fill));
  } else {
    const Blob* data = member_as<Blob>(*r, "data");
    if (!data) return bad_tree(sec, path() + "data", "expected the page bytes");
    w.put_bytes(data->bytes);
  }
  return {};
}

std::uint8_t record_type(SectionKind k) {
  switch (k) {
    case SectionKind::start: return 0x01;
    case SectionKind::part: return 0x02;
    case SectionKind::end: return 0x03;
    case SectionKind::full: return 0x04;
  }
  return 0x04;
}

}  // namespace

Result<StateStream> decode_qemu_stream(ByteSpan bytes, const QemuDecodeOptions& opt) {
  // One budget for the records built here and the bodies the scanner decodes.
  Budget own(opt.limits, bytes.size());
  QemuDecodeOptions o = opt;
  if (!o.budget) o.budget = &own;
  TreeBuilder b(*o.budget);
  SW_CHECK(scan_qemu_stream(bytes, b, o));
  return std::move(b).finish();
}

// --- QemuStreamWriter ------------------------------------------------------

// Output is handed to the sink in pieces of about this size.
constexpr std::size_t kFlushAt = 1u << 20;

QemuStreamWriter::QemuStreamWriter(ByteSink* sink) : sink_(sink) {}

Result<void> QemuStreamWriter::flush_if_big() {
  if (sink_ && w_.size() >= kFlushAt) return flush();
  return {};
}

Result<void> QemuStreamWriter::flush() {
  if (!sink_ || w_.size() == 0) return {};
  SW_CHECK(sink_->write(w_.bytes()));
  w_.truncate(0);
  return {};
}

Result<void> QemuStreamWriter::queue_commands(const Struct& env) {
  const Value* cv = env.find(keys::kCommands);
  if (!cv) return {};
  const Array* arr = cv->get_if<Array>();
  if (!arr) return bad_tree("envelope", "commands", "expected an array");
  std::vector<Command> more;
  for (std::size_t i = 0; i < arr->items.size(); ++i) {
    const std::string path = fmt::format("commands[{}].", commands_seen_ + i);
    const Struct* c = arr->items[i].get_if<Struct>();
    if (!c) return bad_tree("envelope", fmt::format("commands[{}]", commands_seen_ + i), "expected a struct");
    SW_TRY(before, member_uint(*c, "before", "envelope", path));
    SW_TRY(cmd, member_uint(*c, "cmd", "envelope", path));
    const Blob* data = member_as<Blob>(*c, "data");
    if (!data || data->bytes.size() > 0xffff || cmd > 0xffff)
      return bad_tree("envelope", path + "data", "expected cmd <= 0xffff and data up to 64 KiB");
    if (before < sections_)
      return bad_tree("envelope", path + "before",
                      fmt::format("the command belongs before section {}, and {} sections are "
                                  "already written",
                                  before, sections_));
    more.push_back(Command{before, static_cast<std::uint16_t>(cmd), data->bytes});
  }
  commands_seen_ += arr->items.size();
  commands_.insert(commands_.end(), more.begin(), more.end());
  // Commands sit before the section whose index they name ("before").
  std::stable_sort(commands_.begin() + static_cast<long>(next_cmd_), commands_.end(),
                   [](const Command& a, const Command& b) { return a.before < b.before; });
  return {};
}

void QemuStreamWriter::put_commands(std::uint64_t upto) {
  for (; next_cmd_ < commands_.size() && commands_[next_cmd_].before <= upto; ++next_cmd_) {
    const Command& c = commands_[next_cmd_];
    w_.put_u8(static_cast<std::uint8_t>(RecordType::command));
    w_.put_be16(c.cmd);
    w_.put_be16(static_cast<std::uint16_t>(c.data.size()));
    w_.put_bytes(c.data);
  }
}

Result<void> QemuStreamWriter::take_trailer(const Struct& env) {
  if (const Value* tv = env.find(keys::kTrailer)) {
    const std::string* json = tv->get_if<std::string>();
    if (!json || json->size() > 0xffffffffu)
      return bad_tree("envelope", "vmdescription", "expected the trailer JSON as a string");
    trailer_ = *json;
  }
  return {};
}

Result<void> QemuStreamWriter::begin(const Struct& env) {
  std::uint32_t version = kFileVersion;
  if (env.find(keys::kVersion)) {
    SW_TRY(v, member_uint(env, keys::kVersion, "envelope", ""));
    version = static_cast<std::uint32_t>(v);
  }
  const bool* footers_flag = member_as<bool>(env, keys::kFooters);
  footers_ = footers_flag ? *footers_flag : true;
  w_.put_be32(kFileMagic);
  w_.put_be32(version);
  if (const Value* cv = env.find(keys::kConfiguration)) {
    const Struct* conf = cv->get_if<Struct>();
    if (!conf) return bad_tree("envelope", "configuration", "expected a struct");
    w_.put_u8(static_cast<std::uint8_t>(RecordType::configuration));
    auto r = encode_body(*conf, w_);
    if (!r) return Unexpected(std::move(r.error().in_section("configuration")));
  }
  SW_CHECK(queue_commands(env));
  SW_CHECK(take_trailer(env));
  return flush_if_big();
}

Result<void> QemuStreamWriter::envelope(const Struct& more) {
  SW_CHECK(queue_commands(more));
  return take_trailer(more);
}

Result<void> QemuStreamWriter::begin_section(const Section& sec) {
  put_commands(sections_);
  label_ = sec.label();
  w_.put_u8(record_type(sec.kind));
  w_.put_be32(sec.section_id);
  if (sec.kind == SectionKind::start || sec.kind == SectionKind::full) {
    SW_CHECK(put_counted(w_, sec.name, label_, "idstr"));
    w_.put_be32(sec.instance_id);
    w_.put_be32(sec.version_id);
  }
  section_id_ = sec.section_id;
  records_ = 0;
  return {};
}

Result<void> QemuStreamWriter::ram_record(const Value& record) {
  SW_CHECK(encode_ram_record(record, records_++, w_, label_));
  return flush_if_big();
}

Result<void> QemuStreamWriter::end_section() {
  if (footers_) {
    w_.put_u8(static_cast<std::uint8_t>(RecordType::section_footer));
    w_.put_be32(section_id_);
  }
  ++sections_;
  return flush_if_big();
}

Result<void> QemuStreamWriter::section(const Section& sec) {
  SW_CHECK(begin_section(sec));
  const Array* recs = sec.name == "ram" ? member_as<Array>(sec.body, keys::kRamRecords) : nullptr;
  if (recs && sec.body.members.size() == 1) {
    for (const Value& r : recs->items) SW_CHECK(encode_ram_record(r, records_++, w_, label_));
  } else {
    auto r = encode_body(sec.body, w_);
    if (!r) return Unexpected(std::move(r.error().in_section(label_)));
  }
  return end_section();
}

Result<void> QemuStreamWriter::finish() {
  put_commands(~std::uint64_t(0));
  w_.put_u8(static_cast<std::uint8_t>(RecordType::eof));
  if (trailer_) {
    w_.put_u8(static_cast<std::uint8_t>(RecordType::vmdescription));
    w_.put_be32(static_cast<std::uint32_t>(trailer_->size()));
    w_.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(trailer_->data()), trailer_->size()));
  }
  return flush();
}

Result<Bytes> encode_qemu_stream(const StateStream& s) {
  std::size_t estimate = 64;
  for (const auto& sec : s.sections) {
    if (const Array* recs = member_as<Array>(sec.body, keys::kRamRecords))
      estimate += recs->items.size() * 24;  // page data grows the buffer as needed
  }
  QemuStreamWriter w;
  w.reserve(estimate);
  SW_CHECK(w.begin(s.envelope));
  for (const Section& sec : s.sections) SW_CHECK(w.section(sec));
  SW_CHECK(w.finish());
  return std::move(w).take();
}

std::vector<std::shared_ptr<const Description>> builtin_qemu_descriptions() {
  auto scalar = [](std::string name, FieldKind k, std::uint32_t since = 0) {
    Field f;
    f.name = std::move(name);
    f.kind = k;
    f.size = scalar_width(k);
    f.version_id = since;
    return f;
  };
  auto buffer = [](std::string name, std::uint64_t size) {
    Field f;
    f.name = std::move(name);
    f.kind = FieldKind::buffer;
    f.size = size;
    return f;
  };
  // softmmu/cpu-timers.c vmstate_timers (7.2).
  auto timer = std::make_shared<Description>();
  timer->name = "timer";
  timer->version_id = 2;
  timer->minimum_version_id = 1;
  timer->fields = std::vector<Field>{scalar("cpu_ticks_offset", FieldKind::i64),
                                     buffer("unused", 8),
                                     scalar("cpu_clock_offset", FieldKind::i64, 2)};
  // migration/global_state.c vmstate_globalstate (7.2).
  auto global = std::make_shared<Description>();
  global->name = "globalstate";
  global->version_id = 1;
  global->minimum_version_id = 1;
  global->fields = std::vector<Field>{scalar("size", FieldKind::u32), buffer("runstate", 100)};
  return {timer, global};
}

}  // namespace statewire::qemu
