#include "cli/framed_summary.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "statewire/framed.hpp"
#include "statewire/text.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire::cli {

namespace {
// Names in a framed file are any bytes: shown escaped (text.hpp), in JSON too.
std::vector<std::string> printable_all(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(printable(n));
  return out;
}

struct Row {
  std::string label;
  std::uint32_t version_id = 0;
  std::size_t members = 0, subsections = 0;
  std::uint64_t body_bytes = 0;
  std::uint64_t fingerprint = 0;
};

// One pass, a record at a time: a section's body size is its head's plus
// each chunk element's encoding, so no RAM section is ever held.
Result<std::vector<Row>> read_rows(FramedStreamReader& r) {
  std::vector<Row> rows;
  std::vector<ArrayLayout> layouts;  // of the last section's members
  while (true) {
    SW_TRY(item, r.next());
    if (!item) return rows;
    if (item->kind == FramedItem::Kind::section) {
      const Section& s = item->section;
      ByteWriter w;
      (void)encode_body(s.body, w);
      rows.push_back({s.label(), s.version_id, s.body.members.size(), s.body.subsections.size(),
                      w.size(), item->provenance.schema_fingerprint});
      layouts.clear();
      for (const Member& m : s.body.members) {
        const Array* a = m.value.get_if<Array>();
        layouts.push_back(a ? a->layout : ArrayLayout::plain);
      }
    } else if (item->kind == FramedItem::Kind::chunk && !rows.empty() &&
               item->member < layouts.size()) {
      // Marker lists and GTrees write a marker before each element (the end
      // marker and a GTree count are in the head's size).
      const bool marked = layouts[item->member] != ArrayLayout::plain;
      ByteWriter w;
      for (const Value& v : item->items) {
        w.truncate(0);
        (void)encode_value(v, w);
        rows.back().body_bytes += w.size() + (marked ? 1 : 0);
      }
    }
  }
}

}  // namespace

void print_framed_summary(ByteSpan bytes, const std::string& format) {
  SpanSource src(bytes);
  print_framed_summary(src, format);
}

void print_framed_summary(ByteSource& source, const std::string& format) {
  FramedStreamReader reader(source);
  auto rows = read_rows(reader);
  if (!rows) return report(rows.error());
  auto header = reader.header();
  if (!header) return report(header.error());
  const FramedHeader& h = **header;
  const std::uint64_t bytes = reader.offset();
  if (format == "json") {
    nlohmann::ordered_json j;
    j["format"] = "statewire-framed";
    j["producer"] = printable(h.producer);
    j["producer_version"] = printable(h.producer_version);
    j["machine_type"] = printable(h.machine_type);
    j["capabilities"] = printable_all(h.capabilities);
    j["bytes"] = bytes;
    nlohmann::ordered_json secs = nlohmann::ordered_json::array();
    for (const Row& row : *rows)
      secs.push_back({{"section", printable(row.label)},
                      {"version_id", row.version_id},
                      {"members", row.members},
                      {"subsections", row.subsections},
                      {"body_bytes", row.body_bytes},
                      {"schema_fingerprint", fmt::format("{:016x}", row.fingerprint)}});
    j["sections"] = std::move(secs);
    j["skipped"] = printable_all(reader.skipped());
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("statewire framed stream, {} bytes\n", bytes);
  fmt::print("producer: {} {}\nmachine type: {}\ncapabilities: {}\n", printable(h.producer),
             printable(h.producer_version),
             h.machine_type.empty() ? "(none)" : printable(h.machine_type),
             fmt::join(printable_all(h.capabilities), ", "));
  fmt::print("{:<40} {:>7} {:>8} {:>10}  {}\n", "section", "version", "members", "body bytes",
             "written by schema");
  for (const Row& row : *rows)
    fmt::print("{:<40} {:>7} {:>8} {:>10}  {}\n", printable(row.label), row.version_id, row.members,
               row.body_bytes,
               row.fingerprint ? fmt::format("{:016x}", row.fingerprint) : std::string("(unknown)"));
  for (const auto& s : reader.skipped()) fmt::print("skipped: {}\n", printable(s));
}

}  // namespace statewire::cli
