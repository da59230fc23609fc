// One streaming pass over a QEMU stream: the report behind `statewire analyze`
// and the analyze-migration.py compatible state JSON (see qemu_analyze.hpp).
//
// The state JSON itself is rendered in state_json.cpp, the text reports in
// analyze_report.cpp.
#include "statewire/qemu_analyze.hpp"
#include "statewire/text.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "codec/qemu/state_json.hpp"
#include "codec/qemu/trailer.hpp"

namespace statewire::qemu {

namespace {

using detail::generic_struct;
using detail::PyJsonWriter;
using detail::trailer_struct;

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

}  // namespace statewire::qemu
