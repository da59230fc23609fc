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
// Integers whose magnitude exceeds 2^53 are written as "0x..." strings (jq
// 1.6 and JavaScript hold numbers as doubles and would change them); readers
// accept any integer as a number or as a "0x..."/decimal string, range-checked
// against the declared width.
// Readers reject anything malformed with the JSON path of the bad element.
#pragma once

#include <string>
#include <string_view>

#include "statewire/limits.hpp"
#include "statewire/byte_source.hpp"
#include "statewire/result.hpp"
#include "statewire/value.hpp"

namespace statewire {

struct TreeJsonOptions {
  int indent = 1;  // -1: one line
};

std::string to_json(const StateStream& s, const TreeJsonOptions& opt = {});
std::string to_json(const Struct& s, const TreeJsonOptions& opt = {});

// The same document written a section at a time to a sink, for streams too
// large to hold: section() for a whole section; begin_section() (whose body's
// last member is the bulk array, its items ignored), bulk_item() per element
// and end_section() for one whose bulk (RAM pages) arrives element by
// element; finish() with the envelope. The bytes equal to_json() of the whole
// tree; memory stays at one section head and about 1 MiB of output.
class TreeJsonWriter {
 public:
  TreeJsonWriter(ByteSink& sink, const TreeJsonOptions& opt = {});
  [[nodiscard]] Result<void> section(const Section& s);
  [[nodiscard]] Result<void> begin_section(const Section& head);
  [[nodiscard]] Result<void> bulk_item(const Value& element);
  [[nodiscard]] Result<void> end_section();
  [[nodiscard]] Result<void> finish(const Struct& envelope);

 private:
  void next_section();
  Result<void> flush(bool force);

  ByteSink& sink_;
  int indent_;
  std::string out_;
  std::string tail_;  // what follows the bulk array of the open section
  std::size_t sections_ = 0, bulk_items_ = 0;
};

// Readers check the document's nesting before parsing it (limits.hpp).
[[nodiscard]] Result<StateStream> stream_from_json(std::string_view json,
                                                   const Limits& limits = {});
[[nodiscard]] Result<Struct> struct_from_json(std::string_view json, const Limits& limits = {});

}  // namespace statewire
