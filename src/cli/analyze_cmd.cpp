// `statewire analyze STREAM [--schema DUMP.json] [--format text|json] [--extract-ram DIR]`:
// one streaming pass over a QEMU migration stream. text: a summary (sections,
// versions, sizes, RAM pages by kind, the schema that explained each section);
// json: the device state in the layout of QEMU's analyze-migration.py
// `--dump state`; --extract-ram: one file per RAM block under DIR.
#include <fmt/format.h>

#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "cli/framed_summary.hpp"
#include "statewire/framed.hpp"
#include "cli/mapped_file.hpp"
#include "cli/qemu_options.hpp"
#include "cli/ram_extract.hpp"
#include "cli/stream_input.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/text.hpp"

namespace statewire::cli {

namespace {

// Below this size the mapping is read directly: RAM through pread pays off
// only when page headers are too many to stay cheap (each sits in a new
// memory page; a TLB miss per full page), and the buffer costs page faults.
constexpr std::size_t kBulkReadFrom = 64u << 20;

struct AnalyzeArgs {
  std::string path;
  std::string format = "text";
  std::string layout = "lossless";
  std::string sort = "offset";
  std::string extract_dir;
  QemuSchemaArgs schema;
};

// A regular file that is not zstd-compressed: those are mapped.
bool plain_regular_file(const std::string& path) {
  struct stat st {};
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return true;  // the mapping reports why
  unsigned char head[4] = {};
  const bool zstd = std::fread(head, 1, 4, f) == 4 && head[0] == 0x28 && head[1] == 0xb5 &&
                    head[2] == 0x2f && head[3] == 0xfd;
  std::fclose(f);
  return !zstd;
}

void run_analyze(const AnalyzeArgs& args) {
  // A regular file is mapped; anything else (standard input, a pipe, zstd)
  // is read section at a time as it arrives, never spooled.
  std::optional<MappedFile> file;
  std::unique_ptr<StreamInput> in;
  if (plain_regular_file(args.path)) {
    auto f = MappedFile::open(args.path);
    if (!f) return report(f.error());
    file.emplace(std::move(*f));
    if (is_framed(file->bytes())) {
      // Read a record at a time rather than through the mapping, whose
      // touched pages would all count as the process's memory.
      auto i = StreamInput::open(args.path);
      if (!i) return report(i.error());
      return print_framed_summary(**i, args.format);
    }
  } else {
    auto i = StreamInput::open(args.path);
    if (!i) return report(i.error());
    in = std::move(*i);
    auto head = in->peek(8);
    if (!head) return report(head.error());
    if (is_framed(*head)) return print_framed_summary(*in, args.format);
  }
  qemu::AnalyzeOptions opt;
  auto decode = make_decode_options(args.schema);
  if (!decode) return report(decode.error());
  opt.decode = std::move(decode->options);
  if (file && file->bytes().size() >= kBulkReadFrom) {
    const MappedFile& f = *file;
    opt.decode.bulk_read = [&f](std::uint64_t off, std::span<std::uint8_t> dst) {
      return f.read_at(off, dst);
    };
  }
  // A schema that consumes exactly a section's bytes explains it; the
  // re-encode check is for convert, which must write the same bytes back.
  opt.decode.verify_reencode = false;
  opt.state_json = args.format == "json";
  opt.layout = *qemu::parse_state_layout(args.layout);  // CLI11 checked the name
  if (opt.state_json)
    opt.state_sink = [](std::string_view text) { std::fwrite(text.data(), 1, text.size(), stdout); };
  std::optional<RamExtractor> extract;
  if (!args.extract_dir.empty()) extract.emplace(args.extract_dir);
  // A damaged stream still gets a report of everything before the damage.
  opt.keep_partial = true;
  auto r = file ? qemu::analyze_qemu_stream(file->bytes(), opt, extract ? &*extract : nullptr)
                : qemu::analyze_qemu_stream(*in, opt, extract ? &*extract : nullptr);
  if (!r) return report(r.error());
  const Error* stopped = r->stopped ? &*r->stopped : nullptr;
  if (extract && !stopped) {
    auto done = extract->finish();
    if (!done) return report(done.error());
  }
  if (!opt.state_json) {
    fmt::print("{}", qemu::report_text(r->report, stopped));
    if (args.sort == "size") fmt::print("{}", qemu::report_sizes(r->report));
    std::fflush(stdout);
  } else {
    // The JSON on stdout stays clean; what went wrong goes to stderr.
    std::fflush(stdout);
    for (const auto& w : r->report.warnings) fmt::print(stderr, "statewire: warning: {}\n", w.to_string());
    for (const auto& a : r->report.anomalies)
      fmt::print(stderr, "statewire: anomaly: {} [{}]\n", a.to_string(), errc_name(a.code));
  }
  if (extract && !stopped)
    for (const auto& p : extract->written()) fmt::print(stderr, "wrote {}\n", printable(p));
  if (stopped) return report(*stopped);
  if (!r->report.anomalies.empty()) {
    fmt::print(stderr, "statewire: error: {} anomal{} a loader would refuse (listed above)\n",
               r->report.anomalies.size(), r->report.anomalies.size() == 1 ? "y" : "ies");
    set_exit_code(kExitFailure);
  }
}

}  // namespace

void register_analyze(CLI::App& app) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* cmd = app.add_subcommand("analyze", "Summarize a QEMU migration stream (streaming, any size)");
  cmd->add_option("stream", args->path, "QEMU migration stream or framed stream; - reads standard input")
      ->required()
      ->check(kInputFile);
  add_schema_options(*cmd, args->schema);
  cmd->add_option("--format", args->format,
                  "text: summary; json: device state as analyze-migration.py --dump state")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--layout", args->layout,
                  "json: how array elements are gathered. lossless: every element in one list; "
                  "qemu-10.2 / qemu-7.2: exactly what that QEMU's analyze-migration.py prints "
                  "(7.2's keeps only the last element of a 10.2 struct array)")
      ->check(CLI::IsMember({"lossless", "qemu-10.2", "qemu-7.2"}))
      ->capture_default_str();
  cmd->add_option("--sort", args->sort,
                  "text: offset (sections in stream order) or size (adds where the bytes go: RAM "
                  "vs device state, each device's size and share, largest first)")
      ->check(CLI::IsMember({"offset", "size"}));
  cmd->add_option("--extract-ram", args->extract_dir, "Write each RAM block to a file under DIR");
  cmd->callback([args] { run_analyze(*args); });
}

}  // namespace statewire::cli
