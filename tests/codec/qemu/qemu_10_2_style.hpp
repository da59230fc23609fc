// Test helper: a QEMU 7.2 corpus stream made to look like QEMU 10.2 wrote it.
// We have no 10.2 streams; what changed in the description trailer is that
// 10.2 leaves "index" out on the last element of an array of structs (its
// writer marks an element as part of an array only while more elements
// follow). The device bytes stay the same, so the two streams hold the same
// state and any difference in what a reader makes of them is the reader's.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "codec/qemu/trailer.hpp"

namespace statewire::testing {

namespace detail {

// Drops "index" from the last entry of each run of index entries.
inline void drop_last_index(nlohmann::ordered_json& obj, std::size_t& dropped) {
  if (!obj.is_object()) return;
  if (auto fs = obj.find("fields"); fs != obj.end() && fs->is_array()) {
    for (std::size_t i = 0; i < fs->size(); ++i) {
      auto& fe = (*fs)[i];
      if (auto s = fe.find("struct"); s != fe.end()) drop_last_index(*s, dropped);
      if (!fe.contains("index")) continue;
      const bool more = i + 1 < fs->size() && (*fs)[i + 1].contains("index") &&
                        (*fs)[i + 1]["name"] == fe["name"] &&
                        (*fs)[i + 1]["index"] == fe["index"].get<std::uint64_t>() + 1;
      if (!more) {
        fe.erase("index");
        ++dropped;
      }
    }
  }
  if (auto ss = obj.find("subsections"); ss != obj.end() && ss->is_array())
    for (auto& sub : *ss) drop_last_index(sub, dropped);
}

}  // namespace detail

struct Qemu102Style {
  std::vector<std::uint8_t> bytes;
  std::size_t arrays = 0;  // arrays of structs whose last "index" was dropped
};

// The stream with its trailer rewritten; empty bytes when it has no trailer.
inline Qemu102Style as_qemu_10_2_style(const std::vector<std::uint8_t>& in) {
  Qemu102Style out;
  auto t = qemu::detail::locate_trailer(in);
  if (!t || !*t) return out;
  auto root = nlohmann::ordered_json::parse((*t)->json);
  for (auto& dev : root["devices"]) detail::drop_last_index(dev, out.arrays);
  const std::string json = root.dump();
  out.bytes.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>((*t)->offset));
  out.bytes.push_back(0x06);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.bytes.push_back(static_cast<std::uint8_t>(json.size() >> shift));
  out.bytes.insert(out.bytes.end(), json.begin(), json.end());
  return out;
}

}  // namespace statewire::testing
