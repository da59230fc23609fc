// statewire/qemu_analyze.hpp — what a QEMU migration stream holds, in one streaming pass.
//
// analyze_qemu_stream() walks a stream (scan_qemu_stream) and returns a report:
// header facts, every section record with its size and the schema that
// explained it, RAM blocks and page counts by kind. With `state_json` it also
// renders the device state in the layout of QEMU's
// scripts/analyze-migration.py `--dump state` (keys "<idstr> (<section_id>)",
// integers as "0x%0Nx" strings, other fields as hex bytes, subsections by
// name), so scripts written for that tool keep working. The script changed
// between QEMU versions in how it gathers array elements; StateLayout picks
// one (the default never repeats a key nor drops an element, on any input).
// RAM pages are counted, never kept; a `tee` visitor may receive them (e.g.
// to write them to files).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/qemu_stream.hpp"

namespace statewire::qemu {

struct RamBlockReport {
  std::string id;
  std::uint64_t used_length = 0;
  std::uint64_t zero_pages = 0;   // ZERO records with fill 0
  std::uint64_t fill_pages = 0;   // ZERO records with another fill byte
  std::uint64_t full_pages = 0;   // PAGE records
};

struct RamReport {
  std::uint64_t total = 0;  // bytes, from the block list
  std::vector<RamBlockReport> blocks;
  std::uint64_t zero_pages = 0, fill_pages = 0, full_pages = 0;
  std::uint64_t continued = 0;    // page records with the CONTINUE flag
  std::uint64_t eos = 0;          // EOS records (one per RAM section record)
  std::uint64_t block_lists = 0;  // MEM_SIZE records
};

struct SectionReport {
  SectionSummary summary;
  std::uint64_t record_size = 0;  // header + body + footer
};

struct StreamReport {
  std::uint64_t size = 0;
  std::uint32_t version = 0;
  std::optional<std::string> machine;            // from the configuration section
  std::vector<std::string> configuration_subsections;
  bool footers = false;
  std::vector<std::uint16_t> commands;
  std::vector<SectionReport> sections;
  RamReport ram;
  std::optional<std::uint64_t> trailer_offset;
  std::uint64_t trailer_size = 0;
  // What the scan worked around (a damaged trailer): QEMU still loads it.
  std::vector<Error> warnings;
  // What a loader would refuse although the bytes parse: a section with an
  // empty or unprintable name (no handler can match it), a version outside
  // what the given -dump-vmstate schema accepts.
  std::vector<Error> anomalies;
};

// How the state JSON gathers the trailer's per-element entries of an array.
enum class StateLayout : std::uint8_t {
  // Every element of every array in one list, whatever the trailer marks;
  // NULL pointers as null. Equal to qemu_10_2 except for those two details.
  lossless,
  // QEMU 10.2's script: a name seen twice becomes a list (10.2 leaves
  // "index" out on the last element of an array of structs), NULL pointers
  // as "nullptr".
  qemu_10_2,
  // QEMU 7.2's script: "index" entries form a list, an entry without one
  // replaces the key. Identical to the others on 7.2 streams; on 10.2 streams
  // it keeps only the last element of an array of structs, as that script did.
  qemu_7_2,
};
// "lossless", "qemu-10.2", "qemu-7.2".
std::optional<StateLayout> parse_state_layout(std::string_view name);

struct AnalyzeOptions {
  QemuDecodeOptions decode;
  bool state_json = false;  // render analyze-migration.py's --dump state layout
  StateLayout layout = StateLayout::lossless;
  int indent = 4;           // of that JSON
  // When set, the state JSON is handed over in pieces as it is rendered
  // (AnalyzeResult::state_json stays empty): output of any size, little memory.
  std::function<void(std::string_view)> state_sink;
  // On bad input, return what was read before the damage (and the error in
  // AnalyzeResult::stopped) instead of only the error.
  bool keep_partial = false;
};

struct AnalyzeResult {
  StreamReport report;
  std::string state_json;  // when requested (valid JSON also when stopped early)
  // With keep_partial: why the scan stopped before the end; the report and
  // the state JSON cover everything before that point.
  std::optional<Error> stopped;
};

[[nodiscard]] Result<AnalyzeResult> analyze_qemu_stream(ByteSpan bytes,
                                                        const AnalyzeOptions& opt = {},
                                                        QemuStreamVisitor* tee = nullptr);
// The same from a source (a pipe, standard input), section at a time in
// bounded memory; the report's size is the bytes read.
[[nodiscard]] Result<AnalyzeResult> analyze_qemu_stream(ByteSource& source,
                                                        const AnalyzeOptions& opt = {},
                                                        QemuStreamVisitor* tee = nullptr);

// The readable summary `statewire analyze` prints (warnings and anomalies
// included; a scan that stopped early says where and why at the end).
std::string report_text(const StreamReport& r, const Error* stopped);

std::string report_text(const StreamReport& r);

// Where the bytes go: RAM, device state and the rest (headers, footers,
// trailer) with their shares of the stream, then each device (all its
// section records) by size, largest first, in human units.
std::string report_sizes(const StreamReport& r);
// 1536 -> "1.5 KiB" (binary units, one decimal; bytes below 1 KiB).
std::string human_size(std::uint64_t bytes);

}  // namespace statewire::qemu
