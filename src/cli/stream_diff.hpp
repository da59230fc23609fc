// Field-level differences between two whole streams (any formats), shared by
// `statewire diff` (text, JSON) and `statewire report` (HTML): device
// sections matched by name and instance (not by section id), RAM as ranges
// of differing pages per block.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "statewire/tree_diff.hpp"
#include "statewire/value.hpp"

namespace statewire::cli {

// One line of the device part, in the order diff prints them: A's sections
// in stream order, then the sections only B has.
struct SectionDiff {
  enum class Kind : std::uint8_t { differs, only_in_a, only_in_b, not_compared };
  Kind kind = Kind::differs;
  std::string section;  // "cpu/0"
  std::vector<Difference> differences;  // differs: what (a version change first)
  bool opaque_in_a = false;             // not_compared: which side no schema explained
};

struct PageRange {
  std::uint64_t start = 0, end = 0;  // byte offsets in the block, [start, end)
  std::uint64_t pages = 0;
};

struct StreamDiff {
  std::vector<SectionDiff> sections;
  bool ram_compared = false;
  std::map<std::string, std::vector<PageRange>> ram;  // block -> differing ranges
  // Every difference line, each only-in/not-compared section and each RAM range.
  std::size_t count = 0;
};

StreamDiff diff_streams(const StateStream& a, const StateStream& b, bool compare_ram);

}  // namespace statewire::cli
