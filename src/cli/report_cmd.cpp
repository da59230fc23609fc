// `statewire report STREAM [OTHER] -o report.html`: one self-contained HTML
// page (report_html.hpp) about a stream in any format: where the bytes go,
// device sizes, a RAM map per block (zero / filled / data / not sent pages as
// runs), the section list with versions and the schema that explained each;
// with OTHER also the field-level differences of the two (stream_diff.hpp).
// A QEMU stream is read in one streaming pass for its report; the trees a
// diff needs are decoded only when OTHER is given.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "cli/any_stream.hpp"
#include "cli/commands.hpp"
#include "cli/io.hpp"
#include "cli/mapped_file.hpp"
#include "cli/qemu_options.hpp"
#include "cli/report_html.hpp"
#include "cli/stream_diff.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/tree_json.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire::cli {

namespace {

using report::PageKind;

// Pages by block as records arrive (QEMU visitor or tree records).
class RamMap {
 public:
  void block(const std::string& id, std::uint64_t used_length, std::uint64_t page_size) {
    Block& b = get(id);
    b.used_length = used_length;
    if (page_size) b.page_size = page_size, b.page_size_known = true;
  }
  void page(const std::string& id, std::uint64_t addr, PageKind kind, std::uint64_t page_size) {
    Block& b = get(id);
    if (page_size && !b.page_size_known) b.page_size = page_size;
    b.runs.paint(addr / b.page_size, 1, kind);
  }
  // One element of a tree's RAM "records" (qemu_stream.hpp's layout).
  void record(const Struct& r, std::string& current) {
    std::uint64_t flags = 0, addr = 0;
    if (const Value* v = r.find("flags")) v->as_u64(flags);
    if (const Value* v = r.find("addr")) v->as_u64(addr);
    if (const Value* v = r.find("block"); v && v->get_if<std::string>()) current = *v->get_if<std::string>();
    const std::uint64_t kind = flags & ~std::uint64_t(qemu::kRamContinue);
    if (kind == qemu::kRamMemSize) {
      const Value* list = r.find("blocks");
      const Array* a = list ? list->get_if<Array>() : nullptr;
      for (const Value& item : a ? a->items : std::vector<Value>{}) {
        const Struct* bs = item.get_if<Struct>();
        const Value* id = bs ? bs->find("id") : nullptr;
        if (!id || !id->get_if<std::string>()) continue;
        std::uint64_t used = 0, ps = 0;
        if (const Value* u = bs->find("used_length")) u->as_u64(used);
        if (const Value* p = bs->find("page_size")) p->as_u64(ps);
        block(*id->get_if<std::string>(), used, ps);
      }
    } else if (kind == qemu::kRamZero) {
      std::uint64_t fill = 0;
      if (const Value* v = r.find("fill")) v->as_u64(fill);
      page(current, addr, fill ? PageKind::filled : PageKind::zero, 0);
    } else if (kind == qemu::kRamPage) {
      const Value* d = r.find("data");
      const Blob* blob = d ? d->get_if<Blob>() : nullptr;
      page(current, addr, PageKind::data, blob ? blob->bytes.size() : 0);
    }
  }

  std::vector<ReportRamBlock> take() {
    std::vector<ReportRamBlock> out;
    for (const std::string& id : order_) {
      Block& b = blocks_.at(id);
      const std::uint64_t total = b.used_length / b.page_size + (b.used_length % b.page_size != 0);
      out.push_back({id, b.used_length, b.page_size, b.runs.runs(total)});
    }
    return out;
  }

 private:
  struct Block {
    std::uint64_t used_length = 0;
    std::uint64_t page_size = 4096;
    bool page_size_known = false;
    report::PageRuns runs;
  };
  Block& get(const std::string& id) {
    auto [it, fresh] = blocks_.try_emplace(id);
    if (fresh) order_.push_back(id);
    return it->second;
  }
  std::map<std::string, Block> blocks_;
  std::vector<std::string> order_;  // as first seen
};

class RamTee final : public qemu::QemuStreamVisitor {
 public:
  explicit RamTee(RamMap& map) : map_(map) {}
  Result<void> on_ram_blocks(std::uint64_t, std::uint16_t, std::span<const qemu::RamBlock> blocks) override {
    for (const auto& b : blocks) map_.block(b.id, b.used_length, b.page_size.value_or(0));
    return {};
  }
  Result<void> on_ram_record(const qemu::RamRecord& r) override {
    const std::uint16_t kind = r.flags & ~qemu::kRamContinue;
    if (!r.block) return {};
    if (kind == qemu::kRamZero) map_.page(*r.block, r.addr, r.fill ? PageKind::filled : PageKind::zero, r.page_size);
    if (kind == qemu::kRamPage) map_.page(*r.block, r.addr, PageKind::data, r.page_size);
    return {};
  }

 private:
  RamMap& map_;
};

const char* kind_name(SectionKind k) {
  static constexpr const char* kinds[] = {"full", "start", "part", "end"};
  return kinds[static_cast<int>(k)];
}

// As in analyze: RAM of a large file is read with pread, not through the
// mapping, whose touched pages would all count as the process's memory.
constexpr std::size_t kBulkReadFrom = 64u << 20;

Result<ReportStream> qemu_report(const MappedFile& file, const std::string& name,
                                 const qemu::QemuDecodeOptions& decode) {
  const ByteSpan bytes = file.bytes();
  qemu::AnalyzeOptions opt;
  opt.decode = decode;
  if (bytes.size() >= kBulkReadFrom)
    opt.decode.bulk_read = [&file](std::uint64_t off, std::span<std::uint8_t> dst) {
      return file.read_at(off, dst);
    };
  opt.decode.verify_reencode = false;
  opt.keep_partial = true;
  RamMap ram;
  RamTee tee(ram);
  SW_TRY(r, qemu::analyze_qemu_stream(bytes, opt, &tee));
  const qemu::StreamReport& rep = r.report;
  ReportStream out;
  out.name = name;
  out.format = fmt::format("QEMU migration stream, format version {}", rep.version);
  out.size = rep.size;
  out.facts.push_back({"machine type", rep.machine ? *rep.machine : "(no configuration section)"});
  out.facts.push_back({"section footers", rep.footers ? "on" : "off"});
  out.facts.push_back({"description trailer",
                       rep.trailer_offset ? fmt::format("{} bytes of JSON at {:#x}", rep.trailer_size,
                                                        *rep.trailer_offset)
                                          : std::string("none")});
  for (const auto& s : rep.sections) {
    const qemu::SectionSummary& m = s.summary;
    out.sections.push_back({fmt::format("{}/{}", m.header.idstr, m.header.instance_id),
                            m.header.version_id, kind_name(m.header.kind), m.header.offset,
                            m.body_size, std::string(qemu::schema_source_name(m.source)),
                            m.source == qemu::SchemaSource::opaque ? m.note : std::string(),
                            m.source == qemu::SchemaSource::ram});
  }
  out.ram = ram.take();
  for (const auto& w : rep.warnings) out.warnings.push_back(w.to_string());
  for (const auto& a : rep.anomalies) out.anomalies.push_back(a.to_string());
  if (r.stopped) out.stopped = r.stopped->to_string();
  return out;
}

bool opaque_body(const Struct& b) {
  return b.members.size() == 1 && b.members[0].name == qemu::keys::kOpaque;
}

// Framed and JSON inputs: the report from the decoded tree. A section's size
// is its body as QEMU's encoding would write it.
ReportStream tree_report(const InputStream& in, const std::string& name, std::uint64_t size,
                         const FramedStream* framed) {
  ReportStream out;
  out.name = name;
  out.size = size;
  if (framed) {
    const FramedHeader& h = framed->header;
    out.format = "statewire framed stream";
    out.facts.push_back({"producer", h.producer + " " + h.producer_version});
    out.facts.push_back({"machine type", h.machine_type.empty() ? "(none)" : h.machine_type});
    std::string caps;
    for (const auto& c : h.capabilities) caps += (caps.empty() ? "" : ", ") + c;
    out.facts.push_back({"capabilities", caps.empty() ? "(none)" : caps});
  } else {
    out.format = "statewire tree JSON";
  }
  if (const Value* f = in.stream.envelope.find(qemu::keys::kFormat); f && f->get_if<std::string>())
    out.facts.push_back({"envelope", *f->get_if<std::string>()});
  if (const Value* c = in.stream.envelope.find(qemu::keys::kConfiguration))
    if (const Struct* cs = c->get_if<Struct>())
      if (const Value* n = cs->find("name"); n && n->get_if<Blob>()) {
        const auto& b = n->get_if<Blob>()->bytes;
        out.facts.push_back({"machine type (QEMU configuration)", std::string(b.begin(), b.end())});
      }
  RamMap ram;
  std::string current_block;
  std::size_t i = 0;
  for (const Section& s : in.stream.sections) {
    ByteWriter w;
    (void)encode_body(s.body, w);
    const bool is_ram = s.name == "ram";
    std::string source = is_ram ? "ram" : opaque_body(s.body) ? "opaque" : "decoded";
    if (framed && i < framed->provenance.size() && framed->provenance[i].schema_fingerprint)
      source = fmt::format("schema {:016x}", framed->provenance[i].schema_fingerprint);
    ++i;
    out.sections.push_back({s.label(), s.version_id, kind_name(s.kind), std::nullopt, w.size(),
                            source, std::string(), is_ram});
    if (!is_ram) continue;
    const Value* recs = s.body.find(qemu::keys::kRamRecords);
    if (const Array* a = recs ? recs->get_if<Array>() : nullptr)
      for (const Value& item : a->items)
        if (const Struct* r = item.get_if<Struct>()) ram.record(*r, current_block);
  }
  out.ram = ram.take();
  return out;
}

struct Loaded {
  ReportStream report;
  std::optional<InputStream> tree;
};

Result<Loaded> load(const std::string& path, const qemu::QemuDecodeOptions& decode, bool need_tree) {
  SW_TRY(file, MappedFile::open(path));
  const ByteSpan b = file.bytes();
  const std::string name = path == "-" ? "(standard input)" : path;
  Loaded out;
  if (b.size() >= 4 && std::memcmp(b.data(), "QEVM", 4) == 0) {
    auto r = qemu_report(file, name, decode);
    if (!r) return Unexpected(std::move(r.error().in_section(path)));
    out.report = std::move(*r);
    if (need_tree) {
      SW_TRY(t, decode_any_stream(b, path, decode));
      out.tree = std::move(t);
    }
    return out;
  }
  if (is_framed(b)) {
    auto f = decode_framed(b);
    if (!f) return Unexpected(std::move(f.error().in_section(path)));
    InputStream in{std::move(f->stream), "framed"};
    out.report = tree_report(in, name, b.size(), &*f);
    if (need_tree) out.tree = std::move(in);
    return out;
  }
  SW_TRY(in, decode_any_stream(b, path, decode));
  out.report = tree_report(in, name, b.size(), nullptr);
  if (need_tree) out.tree = std::move(in);
  return out;
}

struct ReportArgs {
  std::string stream, other, out;
  std::vector<std::string> ignore;
  QemuSchemaArgs schema;
};

void run_report(const ReportArgs& args) {
  auto decode = make_decode_options(args.schema);
  if (!decode) return report(decode.error());
  const bool two = !args.other.empty();
  if (two && args.stream == "-" && args.other == "-") {
    Error e = make_error(Errc::invalid_value, "only one of STREAM and OTHER can be standard input");
    return report(e);
  }
  auto a = load(args.stream, decode->options, two);
  if (!a) return report(a.error());
  std::string html;
  bool refused = !a->report.stopped.empty() || !a->report.anomalies.empty();
  if (two) {
    auto b = load(args.other, decode->options, true);
    if (!b) return report(b.error());
    const bool ignore_ram = std::find(args.ignore.begin(), args.ignore.end(), "ram") != args.ignore.end();
    const StreamDiff d = diff_streams(a->tree->stream, b->tree->stream, !ignore_ram);
    html = render_report_html(a->report, &b->report, &d);
    refused = refused || !b->report.stopped.empty() || !b->report.anomalies.empty();
  } else {
    html = render_report_html(a->report, nullptr, nullptr);
  }
  auto w = write_file(args.out, html);
  if (!w) return report(w.error());
  if (args.out != "-") fmt::print(stderr, "wrote {} ({} bytes)\n", args.out, html.size());
  // A stream a loader would refuse still gets its page, and exit 1 as with analyze.
  if (refused) set_exit_code(kExitFailure);
}

}  // namespace

void register_report(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "One self-contained HTML page about a stream (any format), or two and their differences");
  cmd->add_option("stream", args->stream, "QEMU, framed or JSON stream; - reads standard input")
      ->required()
      ->check(kInputFile);
  cmd->add_option("other", args->other, "A second stream: the page adds the field-level differences")
      ->check(kInputFile);
  cmd->add_option("-o,--output", args->out, "The HTML file to write; - is standard output")->required();
  cmd->add_option("--ignore", args->ignore, "With OTHER, leave out of the differences: ram")
      ->check(CLI::IsMember({"ram"}));
  add_schema_options(*cmd, args->schema);
  cmd->callback([args] { run_report(*args); });
}

}  // namespace statewire::cli
