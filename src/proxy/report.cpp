// The proxy's final summary, for people (text) and scripts (json).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "statewire/proxy.hpp"

namespace statewire {

std::string render_proxy_text(const ProxyResult& r) {
  std::string out = fmt::format(
      "proxy: {}: {} bytes in, {} out, {} back on the return path in {:.3f} s ({:.1f} MiB/s); "
      "{} section(s), {} rewritten{}\n",
      r.ok ? "completed" : "failed", r.bytes_in, r.bytes_out, r.bytes_back, r.seconds,
      r.seconds > 0 ? double(r.bytes_out) / r.seconds / (1 << 20) : 0.0, r.sections,
      r.rewritten.size(), r.configuration_rewritten ? ", machine type rewritten" : "");
  if (!r.rewritten.empty()) out += fmt::format("proxy: rewritten: {}\n", fmt::join(r.rewritten, ", "));
  if (r.extra_channels)
    out += fmt::format("proxy: {} multifd channel(s) passed through, {} bytes\n", r.extra_channels,
                       r.extra_bytes);
  if (r.held_bytes)
    out += fmt::format("proxy: held {} bytes of device state for {:.2f} ms ({:.2f} ms transforming)\n",
                       r.held_bytes, r.held_seconds * 1e3, r.transform_seconds * 1e3);
  out += fmt::format("proxy: return path: {}\n",
                     !r.return_path ? std::string("not used (the source cannot learn the destination's verdict)")
                     : r.destination_shut ? fmt::format("destination answered SHUT {}", *r.destination_shut)
                                          : std::string("no answer"));
  if (!r.ok) out += fmt::format("proxy: reason: {}\n", r.reason);
  return out;
}

std::string render_proxy_json(const ProxyResult& r) {
  nlohmann::ordered_json j;
  j["result"] = r.ok ? "completed" : "failed";
  j["reason"] = r.reason;
  j["bytes_in"] = r.bytes_in;
  j["bytes_out"] = r.bytes_out;
  j["bytes_back"] = r.bytes_back;
  j["seconds"] = r.seconds;
  j["sections"] = r.sections;
  j["sections_rewritten"] = r.rewritten.size();
  j["rewritten"] = r.rewritten;
  j["configuration_rewritten"] = r.configuration_rewritten;
  j["held_bytes"] = r.held_bytes;
  j["held_seconds"] = r.held_seconds;
  j["transform_seconds"] = r.transform_seconds;
  j["extra_channels"] = r.extra_channels;
  j["extra_bytes"] = r.extra_bytes;
  j["trailer"] = r.trailer;
  j["return_path"] = r.return_path;
  j["destination_shut"] = r.destination_shut ? nlohmann::ordered_json(*r.destination_shut) : nullptr;
  // Seconds from the start; null: did not happen.
  auto at = [](double s) { return s < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s); };
  const auto& t = r.timeline;
  j["timeline"] = {{"completion", at(t.completion)}, {"device_state", at(t.device_state)},
                   {"eof", at(t.eof)},               {"trailer", at(t.trailer)},
                   {"eof_sent", at(t.eof_sent)},     {"answer", at(t.answer)},
                   {"completion_offset", t.completion_offset}, {"eof_offset", t.eof_offset}};
  j["cpu_seconds"] = r.cpu_seconds;
  return j.dump(2) + "\n";
}

}  // namespace statewire
