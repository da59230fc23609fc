// `statewire report`: one self-contained HTML page about a stream (and, with
// a second stream, how the two differ). Everything is inline (CSS, a short
// script, SVG charts drawn here), so the file opens offline and fetches
// nothing. Every string that came from a stream is HTML-escaped (and made
// printable first: names are any bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/stream_diff.hpp"
#include "report/page_runs.hpp"

namespace statewire::cli {

struct ReportSection {
  std::string label;  // "cpu/0", as on the wire (escaped when written)
  std::uint32_t version = 0;
  std::string kind;   // "full", "start", "part", "end"
  std::optional<std::uint64_t> offset;
  std::uint64_t bytes = 0;  // the body, as on the wire (QEMU) or as QEMU would write it
  std::string source;       // "trailer", "dump", "registered", "ram", "opaque", ...
  std::string note;
  bool ram = false;
};

struct ReportRamBlock {
  std::string id;
  std::uint64_t used_length = 0;  // 0 when the stream did not say
  std::uint64_t page_size = 4096;
  std::vector<report::PageRun> runs;
};

struct ReportStream {
  std::string name;    // the path as given
  std::string format;  // "QEMU migration stream, version 3", ...
  std::uint64_t size = 0;
  std::vector<std::pair<std::string, std::string>> facts;  // header facts, shown as given
  std::vector<ReportSection> sections;
  std::vector<ReportRamBlock> ram;
  std::vector<std::string> warnings, anomalies;
  std::string stopped;  // why the read stopped early ("" when it did not)
};

// `b` and `diff` are given together (a report about two streams) or not at all.
std::string render_report_html(const ReportStream& a, const ReportStream* b, const StreamDiff* diff);

// "<" -> "&lt;" etc., after making the text printable (text.hpp).
std::string html_escape(std::string_view s);

}  // namespace statewire::cli
