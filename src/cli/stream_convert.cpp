#include "cli/stream_convert.hpp"

#include <fmt/format.h>

#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"
#include "codec/qemu/trailer.hpp"

namespace statewire::cli {

namespace {

namespace keys = qemu::keys;

bool is_ram(const std::string& name, std::uint32_t instance) {
  return name == "ram" && instance == 0;
}

// The RAM body of a section whose records follow one at a time.
Struct empty_ram_body() {
  Struct b;
  b.members.push_back({std::string(keys::kRamRecords), Value(Array{})});
  return b;
}

// Where a streamed conversion writes.
class SectionOut {
 public:
  virtual ~SectionOut() = default;
  // The stream-level facts known before the first section.
  virtual Result<void> begin(const Struct& envelope) = 0;
  // More of them (commands after the first section, the QEMU trailer).
  virtual Result<void> envelope(const Struct& more) = 0;
  virtual Result<void> section(const Section& s, std::uint64_t fingerprint) = 0;
  virtual Result<void> begin_ram(const Section& head) = 0;
  virtual Result<void> ram_record(const Value& record) = 0;
  virtual Result<void> end_ram() = 0;
  virtual Result<void> finish() = 0;
};

class QemuOut final : public SectionOut {
 public:
  explicit QemuOut(ByteSink& sink) : w_(&sink) {}
  Result<void> begin(const Struct& env) override { return w_.begin(env); }
  Result<void> envelope(const Struct& more) override { return w_.envelope(more); }
  Result<void> section(const Section& s, std::uint64_t) override { return w_.section(s); }
  Result<void> begin_ram(const Section& head) override { return w_.begin_section(head); }
  Result<void> ram_record(const Value& r) override { return w_.ram_record(r); }
  Result<void> end_ram() override { return w_.end_section(); }
  Result<void> finish() override { return w_.finish(); }

 private:
  qemu::QemuStreamWriter w_;
};

class FramedOut final : public SectionOut {
 public:
  FramedOut(ByteSink& sink, FramedEncodeOptions opt) : opt_(std::move(opt)), w_(opt_, &sink) {}
  Result<void> begin(const Struct& env) override {
    // The QEMU configuration section names the machine type.
    if (const Value* cfg = env.find(keys::kConfiguration))
      if (const Struct* c = cfg->get_if<Struct>())
        if (const Value* name = c->find("name"))
          if (const Blob* b = name->get_if<Blob>())
            opt_.header.machine_type.assign(b->bytes.begin(), b->bytes.end());
    SW_CHECK(w_.begin());
    return w_.envelope(env);
  }
  Result<void> envelope(const Struct& more) override { return w_.envelope(more); }
  Result<void> section(const Section& s, std::uint64_t fingerprint) override {
    if (fingerprint)
      opt_.fingerprints[s.name] = fingerprint;
    else
      opt_.fingerprints.erase(s.name);
    return w_.section(s);
  }
  Result<void> begin_ram(const Section& head) override {
    opt_.fingerprints.erase(head.name);
    return w_.begin_section(head, 0);
  }
  Result<void> ram_record(const Value& r) override { return w_.bulk_item(r); }
  Result<void> end_ram() override { return w_.end_section(); }
  Result<void> finish() override { return w_.finish(); }

 private:
  FramedEncodeOptions opt_;  // the writer reads the header and fingerprints from here
  FramedStreamWriter w_;
};

// The tree JSON: sections as they arrive, the envelope (merged from its
// parts) at the end, where the document has it.
class JsonOut final : public SectionOut {
 public:
  explicit JsonOut(ByteSink& sink) : w_(sink) {}
  Result<void> begin(const Struct& env) override {
    env_ = env;
    return {};
  }
  Result<void> envelope(const Struct& more) override {
    for (const Member& m : more.members) {
      Member* have = nullptr;
      for (Member& old : env_.members)
        if (old.name == m.name) have = &old;
      Array* a = have ? have->value.get_if<Array>() : nullptr;
      const Array* b = m.value.get_if<Array>();
      if (!have)
        env_.members.push_back(m);
      else if (a && b)
        a->items.insert(a->items.end(), b->items.begin(), b->items.end());
      else
        return fail(Errc::mismatch, fmt::format("envelope member {} sent twice", m.name));
    }
    return {};
  }
  Result<void> section(const Section& s, std::uint64_t) override { return w_.section(s); }
  Result<void> begin_ram(const Section& head) override { return w_.begin_section(head); }
  Result<void> ram_record(const Value& r) override { return w_.bulk_item(r); }
  Result<void> end_ram() override { return w_.end_section(); }
  Result<void> finish() override { return w_.finish(env_); }

 private:
  TreeJsonWriter w_;
  Struct env_;
};

// Checks each device section before passing it on (SectionChecks).
class CheckedOut final : public SectionOut {
 public:
  CheckedOut(SectionOut& inner, const SectionChecks& checks) : in_(inner), checks_(checks) {}
  // A QEMU input's own description, found ahead of its sections.
  void trailer(std::string_view json) {
    if (checks_.schemas) return;  // --schema decides
    auto c = SchemaCatalog::from_trailer(json);
    if (!c) {
      fmt::print(stderr, "statewire: warning: the description trailer cannot be read ({}): sections "
                         "are written unchecked\n", c.error().to_string());
      return;
    }
    own_ = std::move(*c);
  }
  Result<void> begin(const Struct& env) override { return in_.begin(env); }
  Result<void> envelope(const Struct& more) override { return in_.envelope(more); }
  Result<void> section(const Section& s, std::uint64_t fingerprint) override {
    const SchemaCatalog* c = checks_.schemas ? checks_.schemas : own_ ? &*own_ : nullptr;
    // Nothing to check against (a pipe, or a framed input, whose trailer
    // comes last, without --schema): written as read, as before.
    if (!c) return in_.section(s, fingerprint);
    StreamValidation v;
    validate_section(s, [c](const Section& x) { return c->find_all(x.name, x.instance_id); },
                     checks_.validate, v);
    if (!v.ok()) {
      const char* what = checks_.force ? "warning" : "error";
      for (const Error& e : v.problems)
        fmt::print(stderr, "statewire: {}: {} [{}]\n", what, e.to_string(), errc_name(e.code));
      const std::string against = checks_.schemas ? "checked against " + checks_.schemas_name
                                                  : "checked against the stream's description trailer";
      if (!checks_.force) {
        // Named by its first problem; the output file is removed by the caller.
        Error e = v.problems.front();
        e.message = fmt::format("{} problem(s) QEMU would refuse ({}): the section was not written "
                                "and the partial output is removed (--force writes anyway)",
                                v.problems.size(), against);
        return fail(std::move(e));
      }
      fmt::print(stderr, "statewire: warning: {}: {} problem(s) QEMU would refuse ({}); written anyway (--force)\n",
                 s.label(), v.problems.size(), against);
    }
    return in_.section(s, fingerprint);
  }
  Result<void> begin_ram(const Section& head) override { return in_.begin_ram(head); }
  Result<void> ram_record(const Value& r) override { return in_.ram_record(r); }
  Result<void> end_ram() override { return in_.end_ram(); }
  Result<void> finish() override { return in_.finish(); }

 private:
  SectionOut& in_;
  const SectionChecks& checks_;
  std::optional<SchemaCatalog> own_;
};

// QEMU stream in. The envelope's section_footers is known only when the
// first section ends, so that section (in QEMU's streams the RAM setup: a
// block list and EOS) is held until then; everything after it passes
// through as it arrives.
class QemuIn final : public qemu::QemuStreamVisitor {
 public:
  QemuIn(SectionOut& out, CheckedOut* checks) : out_(out), checks_(checks) {}

  Result<void> on_start(std::uint32_t version, const qemu::detail::Trailer* trailer) override {
    if (checks_ && trailer) checks_->trailer(trailer->json);
    head_.members.push_back({std::string(keys::kFormat), Value(std::string("qemu-savevm"))});
    head_.members.push_back({std::string(keys::kVersion), Value(version)});
    return {};
  }
  Result<void> on_configuration(const Struct& body, std::uint64_t) override {
    head_.members.push_back({std::string(keys::kConfiguration), Value(body)});
    return {};
  }
  Result<void> on_command(std::uint16_t cmd, ByteSpan data, std::uint64_t) override {
    Struct c;
    c.members.push_back({"before", Value(static_cast<std::uint32_t>(sections_))});
    c.members.push_back({"cmd", Value(cmd)});
    c.members.push_back({"data", Value(Blob{Bytes(data.begin(), data.end())})});
    if (!begun_) {
      head_commands_.items.push_back(Value(std::move(c)));
      return {};
    }
    Array list;
    list.items.push_back(Value(std::move(c)));
    Struct more;
    more.members.push_back({std::string(keys::kCommands), Value(std::move(list))});
    return out_.envelope(more);
  }
  Result<void> on_section_begin(const qemu::SectionHeader& h) override {
    ++sections_;
    cur_ = Section{};
    cur_.kind = h.kind;
    cur_.section_id = h.section_id;
    cur_.name = h.idstr;
    cur_.instance_id = h.instance_id;
    cur_.version_id = h.version_id;
    fingerprint_ = 0;
    if (is_ram(h.idstr, h.instance_id)) {
      cur_.body = empty_ram_body();
      if (begun_) return out_.begin_ram(cur_);
    }
    return {};
  }
  Result<void> on_ram_blocks(std::uint64_t total, std::uint16_t flags,
                             std::span<const qemu::RamBlock> blocks) override {
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
    return ram(Value(std::move(r)));
  }
  Result<void> on_ram_record(const qemu::RamRecord& rec) override {
    // One record value reused for every page: its members keep their
    // storage, so a page costs one copy of its bytes and no allocation.
    Struct& r = record_;
    const std::uint16_t kind = rec.flags & ~qemu::kRamContinue;
    std::size_t n = 0;
    auto set = [&](const char* name, auto&& v) {
      if (r.members.size() <= n) r.members.push_back({name, Value()});
      if (r.members[n].name != name) r.members[n].name = name;
      r.members[n].value = std::forward<decltype(v)>(v);
      ++n;
    };
    set("addr", rec.addr);
    set("flags", rec.flags);
    if (rec.named) set("block", *rec.block);
    if (kind == qemu::kRamZero) set("fill", rec.fill);
    if (kind == qemu::kRamPage) {
      if (r.members.size() <= n) r.members.push_back({"data", Value(Blob{})});
      Member& m = r.members[n];
      if (m.name != "data") m.name = "data";
      Blob* b = m.value.get_if<Blob>();
      if (!b) {
        m.value = Value(Blob{});
        b = m.value.get_if<Blob>();
      }
      b->bytes.assign(rec.data.begin(), rec.data.end());
      ++n;
    }
    r.members.resize(n);
    return ram(record_value_);
  }
  Result<void> on_device_body(const qemu::SectionHeader&, Struct&& body, ByteSpan,
                              qemu::SchemaSource, const Description* schema) override {
    cur_.body = std::move(body);
    fingerprint_ = schema ? schema_fingerprint(*schema) : 0;
    return {};
  }
  Result<void> on_section_end(const qemu::SectionSummary& sum) override {
    const bool ram_section = is_ram(cur_.name, cur_.instance_id);
    if (!begun_) {
      head_.members.push_back({std::string(keys::kFooters), Value(sum.footer)});
      SW_CHECK(begin());
      if (!ram_section) return out_.section(cur_, fingerprint_);
      SW_CHECK(out_.begin_ram(cur_));
      for (const Value& r : held_) SW_CHECK(out_.ram_record(r));
      held_.clear();
      return out_.end_ram();
    }
    if (ram_section) return out_.end_ram();
    return out_.section(cur_, fingerprint_);
  }
  Result<void> on_trailer(std::string_view json, std::uint64_t) override {
    trailer_ = std::string(json);
    return {};
  }

  Result<void> finish() {
    if (!begun_) {  // no section at all
      head_.members.push_back({std::string(keys::kFooters), Value(false)});
      SW_CHECK(begin());
    }
    if (trailer_) {
      Struct tail;
      tail.members.push_back({std::string(keys::kTrailer), Value(std::move(*trailer_))});
      SW_CHECK(out_.envelope(tail));
    }
    return out_.finish();
  }

 private:
  Result<void> begin() {
    if (!head_commands_.items.empty())
      head_.members.push_back({std::string(keys::kCommands), Value(std::move(head_commands_))});
    begun_ = true;
    return out_.begin(head_);
  }

  // A RAM record: through, or held with the first section.
  Result<void> ram(const Value& v) {
    if (begun_) return out_.ram_record(v);
    // QEMU's first section holds the block list and EOS; pages in it are
    // held too, up to a bound, since nothing may be written before it ends.
    if (held_.size() >= kMaxHeld)
      return fail(Errc::limit_exceeded,
                  fmt::format("the first section holds more than {} RAM records before its end; "
                              "the stream's footer setting is needed before anything is written",
                              kMaxHeld));
    held_.push_back(v);
    return {};
  }

  static constexpr std::size_t kMaxHeld = 4096;  // 16 MiB of 4 KiB pages

  SectionOut& out_;
  CheckedOut* checks_;
  Struct head_;
  Array head_commands_;
  bool begun_ = false;
  std::uint64_t sections_ = 0;
  Section cur_;
  std::uint64_t fingerprint_ = 0;
  std::vector<Value> held_;
  std::optional<std::string> trailer_;
  Value record_value_{Struct{}};
  Struct& record_ = *record_value_.get_if<Struct>();
};

// Framed stream in.
Result<void> from_framed(ByteSource& in, SectionOut& out, const FramedDecodeOptions& opt) {
  FramedStreamReader r(in, opt);
  bool begun = false;
  bool ram_open = false;
  std::optional<Section> held;  // a section whose chunked arrays are still arriving
  std::uint64_t held_fp = 0;
  auto close = [&]() -> Result<void> {
    if (ram_open) {
      ram_open = false;
      return out.end_ram();
    }
    if (held) {
      auto r = out.section(*held, held_fp);
      held.reset();
      return r;
    }
    return {};
  };
  while (true) {
    SW_TRY(item, r.next());
    if (!item) return {};
    switch (item->kind) {
      case FramedItem::Kind::envelope:
        SW_CHECK(close());
        if (!begun) {
          begun = true;
          SW_CHECK(out.begin(item->envelope));
        } else {
          SW_CHECK(out.envelope(item->envelope));
        }
        break;
      case FramedItem::Kind::section: {
        SW_CHECK(close());
        if (!begun) {
          begun = true;
          SW_CHECK(out.begin(Struct{}));
        }
        Section& s = item->section;
        const Value* recs = s.body.find(keys::kRamRecords);
        if (is_ram(s.name, s.instance_id) && s.body.members.size() == 1 && recs &&
            recs->get_if<Array>()) {
          Array inline_records = std::move(*s.body.members[0].value.get_if<Array>());
          s.body = empty_ram_body();
          SW_CHECK(out.begin_ram(s));
          for (const Value& v : inline_records.items) SW_CHECK(out.ram_record(v));
          ram_open = true;
        } else {
          held = std::move(s);
          held_fp = item->provenance.schema_fingerprint;
        }
        break;
      }
      case FramedItem::Kind::chunk:
        if (ram_open) {
          for (const Value& v : item->items) SW_CHECK(out.ram_record(v));
        } else if (held) {
          Array* a = held->body.members[item->member].value.get_if<Array>();
          for (Value& v : item->items) a->items.push_back(std::move(v));
        }
        break;
      case FramedItem::Kind::end:
        SW_CHECK(close());
        if (!begun) SW_CHECK(out.begin(Struct{}));
        return out.finish();
    }
  }
}

}  // namespace

Result<void> stream_convert(ByteSource& in, std::string_view from, ByteSink& out,
                            std::string_view to, CodecOptions opt, const SectionChecks* checks) {
  std::unique_ptr<SectionOut> w;
  if (to == "qemu")
    w = std::make_unique<QemuOut>(out);
  else if (to == "framed")
    w = std::make_unique<FramedOut>(out, std::move(opt.framed_encode));
  else if (to == "json")
    w = std::make_unique<JsonOut>(out);
  else
    return fail(Errc::unsupported, fmt::format("no section-at-a-time writer for {}", to));
  std::unique_ptr<CheckedOut> checked;
  if (checks) {
    checked = std::make_unique<CheckedOut>(*w, *checks);
  }
  SectionOut& sink = checked ? static_cast<SectionOut&>(*checked) : *w;
  if (from == "framed") return from_framed(in, sink, opt.framed_decode);
  if (from != "qemu")
    return fail(Errc::unsupported, fmt::format("no section-at-a-time reader for {}", from));
  QemuIn visitor(sink, checked.get());
  qemu::QemuStreamReader reader(in, opt.qemu);
  SW_CHECK(reader.run(visitor));
  return visitor.finish();
}

}  // namespace statewire::cli
