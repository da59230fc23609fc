#include "statewire/capabilities.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_document.hpp"

namespace statewire {

CapabilitySet::CapabilitySet(std::vector<std::string> names) : names_(std::move(names)) {
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
}

bool CapabilitySet::contains(std::string_view name) const {
  return std::binary_search(names_.begin(), names_.end(), name);
}

const std::vector<CapabilityInfo>& known_capabilities() {
  static const std::vector<CapabilityInfo> kAll = {
      {caps::kCodecQemu, "QEMU's migration stream (version 3); every peer has it", true},
      {caps::kCodecFramed, "statewire's framed format: lengths, tagged fields, per-record CRC32C", true},
      {caps::kCodecJson, "lossless JSON of the state tree", true},
      {caps::kChecksumCrc32c, "CRC32C over every framed record", true},
      {caps::kPageCrc, "CRC32C of every memory page on a live migration's data channels", true},
      {caps::kCompressZstd, "zstd-compressed framed records", true},
      {caps::kCompressLz4, "lz4-compressed framed records", true},
      {caps::kReturnPath, "the destination acknowledges or explains failure on a return channel", true},
      {caps::kMultiChannel, "bulk memory over several channels in parallel", true},
  };
  return kAll;
}

CapabilitySet supported_capabilities() {
  std::vector<std::string> names;
  for (const auto& c : known_capabilities())
    if (c.supported) names.emplace_back(c.name);
  return CapabilitySet(std::move(names));
}

CapabilitySet intersect(const CapabilitySet& a, const CapabilitySet& b) {
  std::vector<std::string> both;
  for (const auto& n : a.names())
    if (b.contains(n)) both.push_back(n);
  // Only names this build can act on are agreed: an unknown name in both
  // lists still means nothing to us.
  std::erase_if(both, [](const std::string& n) {
    const auto& all = known_capabilities();
    return std::none_of(all.begin(), all.end(),
                        [&](const CapabilityInfo& c) { return c.name == n; });
  });
  return CapabilitySet(std::move(both));
}

SessionSettings apply(const CapabilitySet& agreed) {
  SessionSettings s;
  if (agreed.contains(caps::kCodecFramed)) {
    s.codec = "framed";
    // Framed v1 checks every record; the name lets older peers see it.
    s.checksums = true;
    if (agreed.contains(caps::kCompressZstd))
      s.compression = Compression::zstd;
    else if (agreed.contains(caps::kCompressLz4))
      s.compression = Compression::lz4;
  }
  s.return_path = agreed.contains(caps::kReturnPath);
  s.channels = agreed.contains(caps::kMultiChannel) ? 4 : 1;
  return s;
}

CapabilitySet parse_capability_list(std::string_view text) {
  std::vector<std::string> names;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty() && cur != "none") names.push_back(cur);
    cur.clear();
  };
  for (char c : text) {
    if (c == ',')
      flush();
    else if (c != ' ' && c != '\t' && c != '\n')
      cur += c;
  }
  flush();
  return CapabilitySet(std::move(names));
}

Result<CapabilitySet> capabilities_from_json(std::string_view text) {
  SW_TRY(j, detail::parse_json_document<nlohmann::json>(text, Limits{}, "capabilities"));
  if (j.is_null()) return CapabilitySet{};
  if (!j.is_object()) return fail(Errc::invalid_value, "capabilities: expected an object");
  auto it = j.find("capabilities");
  if (it == j.end() || it->is_null()) return CapabilitySet{};
  if (!it->is_array()) return fail(Errc::invalid_value, "capabilities: expected an array of names");
  std::vector<std::string> names;
  for (std::size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) {
      Error e = make_error(Errc::invalid_value, "expected a capability name");
      e.field_path = fmt::format("capabilities[{}]", i);
      return fail(std::move(e));
    }
    names.push_back((*it)[i].get<std::string>());
  }
  return CapabilitySet(std::move(names));
}

std::string to_json(const CapabilitySet& set) {
  nlohmann::json j;
  j["capabilities"] = set.names();
  return j.dump() + "\n";
}

std::string compression_name(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::zstd: return "zstd";
    case Compression::lz4: return "lz4";
  }
  return "none";
}

}  // namespace statewire
