// statewire/tree_json.hpp — lossless JSON for state trees.
//
// tree -> JSON -> tree is the identity: every value carries its kind ("t"),
// integers keep their width and signedness, 64-bit integers are exact, blobs
// are hex strings, and doubles carry their bit pattern. The layout:
//   {"sections": [{"name": "serial", "instance_id": 0, "version_id": 3,
//                  "fields": [{"n": "divider", "t": "u16", "v": 12}, ...],
//                  "subsections": [{"name": "serial/fifo", "version_id": 1,
//                                   "fields": [...], "subsections": [...]}]}],
//    "envelope": {"fields": [...]}}      (only when StateStream::envelope is not empty)
// Names and strings that are not valid UTF-8 (any byte may arrive on the wire)
// are written as hex under "n_hex", "name_hex" or, for a string value, "hex"
// instead of "v", and read back to the same bytes.
// Readers reject anything malformed with the JSON path of the bad element.
#pragma once

#include <string>
#include <string_view>

#include "statewire/limits.hpp"
#include "statewire/result.hpp"
#include "statewire/value.hpp"

namespace statewire {

struct TreeJsonOptions {
  int indent = 1;  // -1: one line
};

std::string to_json(const StateStream& s, const TreeJsonOptions& opt = {});
std::string to_json(const Struct& s, const TreeJsonOptions& opt = {});

// Readers check the document's nesting before parsing it (limits.hpp).
[[nodiscard]] Result<StateStream> stream_from_json(std::string_view json,
                                                   const Limits& limits = {});
[[nodiscard]] Result<Struct> struct_from_json(std::string_view json, const Limits& limits = {});

}  // namespace statewire
