// statewire/schema_json.hpp — schema dumps in QEMU's -dump-vmstate JSON shape.
//
// Loads every dump QEMU 7.2 writes (and later ones with the optional "num" key)
// and writes the same JSON back: load -> export -> load is the identity, and
// exporting a loaded QEMU dump reproduces the file byte for byte. statewire's
// own export adds keys QEMU's loader-facing dump lacks (type, count, test and
// needed names); readers that only know QEMU's keys ignore them.
#pragma once

#include <string>
#include <string_view>

#include "statewire/limits.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"

namespace statewire {

struct SchemaJsonOptions {
  // Add statewire's keys ("type", "info", "count", "test", "needed", flags).
  // Off reproduces QEMU's shape exactly.
  bool extended = false;
};

[[nodiscard]] Result<SchemaSet> parse_schema_json(std::string_view json, const Limits& limits = {});
[[nodiscard]] Result<SchemaSet> load_schema_file(const std::string& path);

std::string to_schema_json(const SchemaSet& set, const SchemaJsonOptions& opt = {});
// A single description in QEMU's DESC shape (used by the trailer and tools).
std::string to_schema_json(const Description& d, const SchemaJsonOptions& opt = {});

}  // namespace statewire
