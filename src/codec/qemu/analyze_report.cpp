// The text reports of `statewire analyze`: the summary (report_text) and the
// sizes by device (report_sizes).
#include "statewire/qemu_analyze.hpp"
#include "statewire/text.hpp"

#include <fmt/format.h>

#include <map>

namespace statewire::qemu {

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
