#include "cli/framed_summary.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "statewire/framed.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire::cli {

void print_framed_summary(ByteSpan bytes, const std::string& format) {
  auto f = decode_framed(bytes);
  if (!f) return report(f.error());
  if (format == "json") {
    nlohmann::ordered_json j;
    j["format"] = "statewire-framed";
    j["producer"] = f->header.producer;
    j["producer_version"] = f->header.producer_version;
    j["machine_type"] = f->header.machine_type;
    j["capabilities"] = f->header.capabilities;
    j["bytes"] = f->bytes;
    nlohmann::ordered_json secs = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < f->stream.sections.size(); ++i) {
      const Section& s = f->stream.sections[i];
      ByteWriter w;
      (void)encode_body(s.body, w);
      secs.push_back({{"section", s.label()},
                      {"version_id", s.version_id},
                      {"members", s.body.members.size()},
                      {"subsections", s.body.subsections.size()},
                      {"body_bytes", w.size()},
                      {"schema_fingerprint", fmt::format("{:016x}", f->provenance[i].schema_fingerprint)}});
    }
    j["sections"] = std::move(secs);
    j["skipped"] = f->skipped;
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("statewire framed stream, {} bytes\n", f->bytes);
  fmt::print("producer: {} {}\nmachine type: {}\ncapabilities: {}\n", f->header.producer,
             f->header.producer_version, f->header.machine_type.empty() ? "(none)" : f->header.machine_type,
             fmt::join(f->header.capabilities, ", "));
  fmt::print("{:<40} {:>7} {:>8} {:>10}  {}\n", "section", "version", "members", "body bytes",
             "written by schema");
  for (std::size_t i = 0; i < f->stream.sections.size(); ++i) {
    const Section& s = f->stream.sections[i];
    ByteWriter w;
    (void)encode_body(s.body, w);
    std::uint64_t fp = f->provenance[i].schema_fingerprint;
    fmt::print("{:<40} {:>7} {:>8} {:>10}  {}\n", s.label(), s.version_id, s.body.members.size(),
               w.size(), fp ? fmt::format("{:016x}", fp) : std::string("(unknown)"));
  }
  for (const auto& s : f->skipped) fmt::print("skipped: {}\n", s);
}

}  // namespace statewire::cli
