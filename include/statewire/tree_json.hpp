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
// Integers whose magnitude exceeds 2^53 are written as "0x..." strings (jq
// 1.6 and JavaScript hold numbers as doubles and would change them); readers
// accept any integer as a number or as a "0x..."/decimal string, range-checked
// against the declared width.
// Readers reject anything malformed with the JSON path of the bad element.
#pragma once

#include <string>
#include <string_view>

#include "statewire/result.hpp"
#include "statewire/value.hpp"

namespace statewire {

struct TreeJsonOptions {
  int indent = 1;  // -1: one line
};

std::string to_json(const StateStream& s, const TreeJsonOptions& opt = {});
std::string to_json(const Struct& s, const TreeJsonOptions& opt = {});

[[nodiscard]] Result<StateStream> stream_from_json(std::string_view json);
[[nodiscard]] Result<Struct> struct_from_json(std::string_view json);

}  // namespace statewire
