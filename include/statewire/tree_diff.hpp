// statewire/tree_diff.hpp — differences between two state trees, by path.
//
// Paths read like the field paths in errors: "serial/0:state.divider",
// "nic/0:ring[3].addr", "serial/0:serial/fifo.data". A diff never stops at the
// first difference; it lists them all (up to a caller-chosen bound).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "statewire/value.hpp"

namespace statewire {

struct Difference {
  std::string path;
  std::string what;  // "u16 5 != u16 7", "only in left", "kind u8 != u16"
  // For two leaves of the same kind that differ: both values (tools print
  // them their own way, e.g. "0xfff0 -> 0x2bb1").
  std::optional<Value> left, right;
};

struct DiffOptions {
  std::size_t max_differences = 1000;  // a diff of two unrelated streams stays readable
};

std::vector<Difference> diff(const Struct& a, const Struct& b, const DiffOptions& opt = {});
std::vector<Difference> diff(const StateStream& a, const StateStream& b,
                             const DiffOptions& opt = {});

}  // namespace statewire
