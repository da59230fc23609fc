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
}  // namespace

void print_framed_summary(ByteSpan bytes, const std::string& format) {
  auto f = decode_framed(bytes);
  if (!f) return report(f.error());
  if (format == "json") {
    nlohmann::ordered_json j;
    j["format"] = "statewire-framed";
    j["producer"] = printable(f->header.producer);
    j["producer_version"] = printable(f->header.producer_version);
    j["machine_type"] = printable(f->header.machine_type);
    j["capabilities"] = printable_all(f->header.capabilities);
    j["bytes"] = f->bytes;
    nlohmann::ordered_json secs = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < f->stream.sections.size(); ++i) {
      const Section& s = f->stream.sections[i];
      ByteWriter w;
      (void)encode_body(s.body, w);
      secs.push_back({{"section", printable(s.label())},
                      {"version_id", s.version_id},
                      {"members", s.body.members.size()},
                      {"subsections", s.body.subsections.size()},
                      {"body_bytes", w.size()},
                      {"schema_fingerprint", fmt::format("{:016x}", f->provenance[i].schema_fingerprint)}});
    }
    j["sections"] = std::move(secs);
    j["skipped"] = printable_all(f->skipped);
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("statewire framed stream, {} bytes\n", f->bytes);
  fmt::print("producer: {} {}\nmachine type: {}\ncapabilities: {}\n", printable(f->header.producer),
             printable(f->header.producer_version),
             f->header.machine_type.empty() ? "(none)" : printable(f->header.machine_type),
             fmt::join(printable_all(f->header.capabilities), ", "));
  fmt::print("{:<40} {:>7} {:>8} {:>10}  {}\n", "section", "version", "members", "body bytes",
             "written by schema");
  for (std::size_t i = 0; i < f->stream.sections.size(); ++i) {
    const Section& s = f->stream.sections[i];
    ByteWriter w;
    (void)encode_body(s.body, w);
    std::uint64_t fp = f->provenance[i].schema_fingerprint;
    fmt::print("{:<40} {:>7} {:>8} {:>10}  {}\n", printable(s.label()), s.version_id, s.body.members.size(),
               w.size(), fp ? fmt::format("{:016x}", fp) : std::string("(unknown)"));
  }
  for (const auto& s : f->skipped) fmt::print("skipped: {}\n", printable(s));
}

}  // namespace statewire::cli
