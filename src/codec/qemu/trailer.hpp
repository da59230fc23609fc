// The JSON description trailer (QEMU_VM_VMDESCRIPTION) of a QEMU stream:
// finding it at the end of the input, and turning each device entry into a
// Description that decode_body() can use, plus the exact body size the
// entry's per-field `size`s add up to (QEMU records bytes actually written).
//
// Trailer field entries describe what was sent, so every converted field is
// unconditional (version 0, no test). Types map to kinds; anything without a
// fixed meaning (pci config, qtailq, ...) becomes `custom` of the recorded
// size and is kept as bytes. Index entries ("index": i, one per element)
// stay separate fields of one element each, so a decoded Struct has exactly
// one member per trailer field entry (analyze relies on that).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"

namespace statewire::qemu::detail {

using Json = nlohmann::ordered_json;

struct TrailerDevice {
  std::string name;
  std::uint32_t instance_id = 0;
  const Json* entry = nullptr;  // into Trailer::root
  std::shared_ptr<const Description> description;
  std::uint64_t body_size = 0;  // bytes the entry says were written
};

struct Trailer {
  std::uint64_t offset = 0;  // of the 0x06 byte
  std::string_view json;     // view into the stream
  Json root;
  std::uint64_t page_size = 0;
  std::vector<TrailerDevice> devices;
  std::map<std::pair<std::string, std::uint32_t>, std::size_t, std::less<>> index;
  std::set<std::string, std::less<>> custom_infos;  // every `custom` info name used

  const TrailerDevice* find(const std::string& name, std::uint32_t instance) const;
};

// The trailer when the input ends with one (EOF byte, 0x06, be32 len, JSON to
// the last byte), nullopt when it does not; an error when it is there but its
// JSON is malformed.
[[nodiscard]] Result<std::optional<Trailer>> locate_trailer(ByteSpan bytes);

// Parses trailer JSON text found at `offset` (the 0x06 byte).
[[nodiscard]] Result<Trailer> parse_trailer(std::string_view json, std::uint64_t offset);

}  // namespace statewire::qemu::detail
